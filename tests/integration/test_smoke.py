"""End to end against a real restate-server: register a deployment, invoke, query its status."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from local_stack import LocalRestateServer

GREETER_APP = "tests.integration.apps.greeter:app"
STATE_DEADLINE_SECONDS = 15.0


def _query(client: httpx.Client, server: LocalRestateServer, sql: str) -> list[dict[str, Any]]:
    """Rows of an admin SQL query (JSON, not the default Arrow)."""
    response = client.post(
        f"{server.admin_url}/query",
        json={"query": sql},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def test_register_call_and_query(
    restate_server: LocalRestateServer, serve_asgi: Callable[[str], str]
) -> None:
    app_url = serve_asgi(GREETER_APP)
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        first = client.post(f"{restate_server.admin_url}/deployments", json={"uri": app_url})
        assert first.status_code == 201, first.text
        deployment = first.json()
        assert deployment["id"].startswith("dp_")
        assert [service["name"] for service in deployment["services"]] == ["Greeter"]

        again = client.post(f"{restate_server.admin_url}/deployments", json={"uri": app_url})
        assert again.status_code == 200, again.text
        assert again.json()["id"] == deployment["id"]

        call = client.post(f"{restate_server.ingress_url}/restate/call/Greeter/greet", json="world")
        assert call.status_code == 200, call.text
        assert call.json() == "Hello, world!"
        invocation_id = call.headers["x-restate-id"]
        assert invocation_id.startswith("inv_")

        deadline = time.monotonic() + STATE_DEADLINE_SECONDS
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = _query(
                client,
                restate_server,
                "SELECT id, target, status, completion_result FROM sys_invocation "
                f"WHERE id = '{invocation_id}'",
            )
            if rows and rows[0].get("status") == "completed":
                break
            time.sleep(0.05)
        assert rows == [
            {
                "id": invocation_id,
                "target": "Greeter/greet",
                "status": "completed",
                "completion_result": "success",
            }
        ]

        steps = _query(
            client,
            restate_server,
            f"SELECT entry_type, name FROM sys_journal WHERE id = '{invocation_id}' "
            "AND entry_type = 'Command: Run'",
        )
        assert steps == [{"entry_type": "Command: Run", "name": "compose greeting"}]
