"""What an operation journals: its named steps, one status write per step, and on the tenant's
lock an acquire and a release; a lease timer only once somebody waits. The live status still
shows every event, each dated by the step or lock answer it came from."""

from __future__ import annotations

import uuid
from typing import Any

from .conftest import Stack
from .test_failures import event_types
from .test_operations import key


def mock_request(tenant: str, operation: str, **config: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "operation": operation,
        "compute_provider": "mock",
        "desired_config": config,
    }


def state_writes(stack: Stack, invocation: str) -> int:
    rows = stack.client.query(
        f"SELECT index FROM sys_journal WHERE id = '{invocation}' "
        "AND entry_type = 'Command: SetState'"
    )
    return len(rows)


def test_a_provision_journals_its_steps_and_the_status_once_per_step(
    stack: Stack, tenant: str
) -> None:
    execution = key(tenant, "provision")
    invocation = stack.client.send(execution, mock_request(tenant, "provision"))
    assert stack.client.attach(execution).status_code == 200
    assert stack.client.journal_names(invocation) == ["provision mock", "health check 1"]
    assert state_writes(stack, invocation) == 3  # before each of the two steps, and at the end
    status = stack.client.status(execution)
    assert event_types(status) == [
        "requested",
        "transition",
        "step completed",
        "healthy",
        "transition",
    ]
    assert [e["phase"] for e in status["events"]] == [
        "requested",
        "provisioning",
        "provisioning",
        "provisioning",
        "ready",
    ]
    assert [e["step"] for e in status["events"]] == [
        None,
        None,
        "provision mock",
        "health check 1",
        None,
    ]
    assert (status["steps_done"], status["steps_total"], status["outcome"]) == (2, 2, "succeeded")
    stamps = [e["at"] for e in status["events"]]
    assert stamps == sorted(stamps)
    stack.client.wait_unlocked(tenant)
    assert stack.client.lock_calls(tenant) == ["acquire", "release"]  # no lease timer


def test_only_a_waiter_arms_the_holders_lease_timer(stack: Stack, tenant: str) -> None:
    slow = key(tenant, "provision")
    stack.client.send(slow, mock_request(tenant, "provision", healthy_after=3))
    stack.client.wait_for(slow, lambda s: s["phase"] == "provisioning")
    queued = f"{tenant}-delete-{uuid.uuid4().hex[:6]}"
    stack.client.send(queued, mock_request(tenant, "delete"))
    stack.client.wait_for(queued, lambda s: "waiting" in event_types(s))
    assert stack.client.attach(slow).status_code == 200
    assert stack.client.attach(queued).status_code == 200
    stack.client.wait_unlocked(tenant)
    calls = stack.client.lock_calls(tenant)
    assert calls.count("expire") == 1, calls  # armed when the delete queued, not by either grant
    assert calls.count("acquire") == 2
    assert calls.count("release") == 2
