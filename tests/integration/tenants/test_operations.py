"""Each tenant operation end to end with the `local` backend (real processes), under a normal
server and one that replays at every step."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .conftest import Stack


def request(tenant: str, operation: str, **fields: Any) -> dict[str, Any]:
    return {"tenant_id": tenant, "operation": operation, "compute_provider": "local"} | fields


def key(tenant: str, operation: str) -> str:
    return f"{tenant}-{operation}-{uuid.uuid4().hex[:6]}"


def test_provision_starts_one_healthy_process(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    desired = {"settings": {"plan": "gold"}}
    response = stack.client.call(execution, request(tenant, "provision", desired_config=desired))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["phase"] == "ready"
    assert result["observed_config"]["settings"] == {"plan": "gold"}
    assert len(stack.processes(tenant)) == 1
    served = httpx.get(result["endpoints"]["http"] + "/", timeout=5).json()
    assert served == {"tenant": tenant, "settings": {"plan": "gold"}}
    status = stack.client.status(execution)
    assert status["outcome"] == "succeeded"
    assert (status["steps_done"], status["steps_total"]) == (2, 2)
    phases = [e["phase"] for e in status["events"] if e["type"] == "transition"]
    assert phases == ["provisioning", "ready"]
    stamps = [e["at"] for e in status["events"]]
    assert stamps == sorted(stamps)


def test_plan_changes_nothing(stack: Stack, tenant: str) -> None:
    response = stack.client.call(
        key(tenant, "plan"), request(tenant, "plan", desired_config={"settings": {"a": 1}})
    )
    assert response.status_code == 200, response.text
    assert response.json()["plan"] == [
        {
            "action": "create",
            "resource": "compute",
            "detail": {
                "command": None,
                "env": {},
                "port": None,
                "health_path": "/health",
                "settings": {"a": 1},
            },
        }
    ]
    assert stack.processes(tenant) == []


def test_update_applies_the_difference(stack: Stack, tenant: str) -> None:
    first = stack.client.call(
        key(tenant, "provision"),
        request(tenant, "provision", desired_config={"settings": {"v": 1}}),
    ).json()
    planned = stack.client.call(
        key(tenant, "plan"), request(tenant, "plan", desired_config={"settings": {"v": 2}})
    ).json()
    assert planned["plan"][0]["action"] == "update"
    assert planned["plan"][0]["detail"] == {"settings": {"from": {"v": 1}, "to": {"v": 2}}}
    updated = stack.client.call(
        key(tenant, "update"), request(tenant, "update", desired_config={"settings": {"v": 2}})
    )
    assert updated.status_code == 200, updated.text
    result = updated.json()
    assert result["phase"] == "ready"
    assert result["endpoints"] == first["endpoints"]
    assert httpx.get(result["endpoints"]["http"] + "/", timeout=5).json()["settings"] == {"v": 2}
    assert len(stack.processes(tenant)) == 1


def test_delete_leaves_nothing_running(stack: Stack, tenant: str) -> None:
    stack.client.call(key(tenant, "provision"), request(tenant, "provision"))
    assert len(stack.processes(tenant)) == 1
    deleted = stack.client.call(key(tenant, "delete"), request(tenant, "delete"))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["phase"] == "archived"
    assert stack.processes(tenant) == []


def test_deleting_an_absent_tenant_succeeds(stack: Stack, tenant: str) -> None:
    deleted = stack.client.call(key(tenant, "delete"), request(tenant, "delete"))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["phase"] == "archived"
