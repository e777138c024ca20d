"""LocalRestateServer against the real binary: restart and crash keep ports and data."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from local_stack import LocalRestateServer, RestateServerStartError
from local_stack.ports import port_is_free

GREETER_APP = "tests.integration.apps.greeter:app"


def _invocation_status(client: httpx.Client, server: LocalRestateServer, inv: str) -> str | None:
    """``sys_invocation.status`` of one invocation, None if the server does not know it."""
    response = client.post(
        f"{server.admin_url}/query",
        json={"query": f"SELECT status FROM sys_invocation WHERE id = '{inv}'"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    return rows[0]["status"] if rows else None


def _greet(client: httpx.Client, server: LocalRestateServer, name: str) -> str:
    """Call Greeter/greet and return the invocation id."""
    response = client.post(f"{server.ingress_url}/restate/call/Greeter/greet", json=name)
    assert response.status_code == 200, response.text
    assert response.json() == f"Hello, {name}!"
    return response.headers["x-restate-id"]


@pytest.fixture
def own_server(restate_binary: Path, tmp_path: Path) -> Iterator[LocalRestateServer]:
    """A server private to one test (the session server must not be restarted or killed)."""
    server = LocalRestateServer(binary=restate_binary, data_dir=tmp_path / "data")
    yield server
    server.stop()


def test_restart_and_crash_keep_ports_and_data(
    own_server: LocalRestateServer, serve_asgi: Callable[[str], str]
) -> None:
    server = own_server
    server.start()
    urls = (server.ingress_url, server.admin_url, server.node_url)
    app_url = serve_asgi(GREETER_APP)
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        registered = client.post(f"{server.admin_url}/deployments", json={"uri": app_url})
        assert registered.status_code == 201, registered.text
        before = _greet(client, server, "before")
        first_pid = server.pid

        server.restart()
        assert server.pid not in (None, first_pid)
        assert (server.ingress_url, server.admin_url, server.node_url) == urls
        assert _invocation_status(client, server, before) == "completed"
        after_restart = _greet(client, server, "after restart")  # deployment survived too

        server.kill()
        assert not server.running
        assert server.pid is None
        server.start()
        assert _invocation_status(client, server, before) == "completed"
        assert _invocation_status(client, server, after_restart) == "completed"
        _greet(client, server, "after crash")

    assert "received signal SIGTERM" in server.log_text()
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    deadline = time.monotonic() + 10
    while not port_is_free(server.admin_port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert port_is_free(server.admin_port)


def test_second_server_on_a_taken_port_fails_clearly(
    restate_server: LocalRestateServer, restate_binary: Path, tmp_path: Path
) -> None:
    clash = LocalRestateServer(
        binary=restate_binary, data_dir=tmp_path / "data", ingress_port=restate_server.ingress_port
    )
    with pytest.raises(
        RestateServerStartError, match=r"ingress port \d+ on 127.0.0.1 is already in use"
    ):
        clash.start()
    assert not clash.running


def test_context_manager_starts_and_stops(restate_binary: Path, tmp_path: Path) -> None:
    with LocalRestateServer(binary=restate_binary, data_dir=tmp_path / "data") as server:
        assert server.running
        health = httpx.get(f"{server.node_url}/health", timeout=10.0, trust_env=False)
        assert health.status_code == 200
    assert not server.running
