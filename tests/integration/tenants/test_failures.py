"""Every way a tenant operation can end badly: cancel, deadline, failing steps, bad input,
and a second operation on a busy tenant. Compensations must leave nothing behind."""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from .conftest import Stack
from .test_operations import key, request

NEVER_HEALTHY = [sys.executable, "-c", "import time; time.sleep(600)"]


def event_types(status: dict[str, Any]) -> list[str]:
    return [event["type"] for event in status["events"]]


def test_cancel_mid_provision_compensates(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    invocation = stack.client.send(
        execution, request(tenant, "provision", desired_config={"command": NEVER_HEALTHY})
    )
    stack.client.wait_for(execution, lambda s: s["step"] and s["step"].startswith("health check"))
    assert len(stack.processes(tenant)) == 1
    stack.client.cancel(invocation)
    result = stack.client.attach(execution)
    assert result.status_code == 409, result.text
    assert result.json()["message"].startswith("cancelled during health check")
    status = stack.client.status(execution)
    assert status["outcome"] == "cancelled"
    assert status["phase"] == "failed"
    assert "compensated" in event_types(status)
    assert stack.processes(tenant) == []


def test_deadline_compensates_and_says_timed_out(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    response = stack.client.call(
        execution,
        request(tenant, "provision", desired_config={"command": NEVER_HEALTHY}, timeout="3s"),
    )
    assert response.status_code == 408, response.text
    assert "timed out after 0:00:03 during step 'wait healthy'" in response.json()["message"]
    status = stack.client.status(execution)
    assert status["outcome"] == "timed_out"
    assert "compensated" in event_types(status)
    assert stack.processes(tenant) == []


def test_unhealthy_tenant_fails_after_health_timeout(stack: Stack, tenant: str) -> None:
    response = stack.client.call(
        key(tenant, "provision"),
        request(
            tenant, "provision", desired_config={"command": NEVER_HEALTHY}, health_timeout="1s"
        ),
    )
    assert response.status_code == 500, response.text
    assert response.json()["message"].startswith("step 'wait healthy' failed: not healthy after")
    assert stack.processes(tenant) == []


def test_failing_step_is_retried_then_compensated(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    started = time.monotonic()
    response = stack.client.call(
        execution,
        {
            "tenant_id": tenant,
            "operation": "provision",
            "compute_provider": "mock",
            "desired_config": {"fail_on": "provision"},
            "retry_policy": {"max_attempts": 3, "initial_interval": "200ms", "backoff_rate": 2},
        },
    )
    assert response.status_code == 500, response.text
    message = response.json()["message"]
    assert message.startswith("step 'provision mock' failed:")
    assert "mock compute failed to provision (transient)" in message
    assert time.monotonic() - started >= 0.6  # 200 ms + 400 ms of backoff between 3 attempts
    status = stack.client.status(execution)
    assert status["outcome"] == "failed"
    assert event_types(status)[-2:] == ["compensated", "transition"]
    attempts = stack.client.query(
        "SELECT retry_count FROM sys_invocation WHERE target_service_key = "
        f"'{execution}' AND target_handler_name = 'run'"
    )
    assert attempts  # the invocation itself never needed a retry: the step did its own
    assert attempts[0].get("retry_count", 0) == 0


def test_permanent_refusal_is_not_retried(stack: Stack, tenant: str) -> None:
    response = stack.client.call(
        key(tenant, "provision"),
        {
            "tenant_id": tenant,
            "operation": "provision",
            "compute_provider": "mock",
            "desired_config": {"fail_on": "provision", "failure": "permanent"},
            "retry_policy": {"max_attempts": 5, "initial_interval": "5s"},
        },
    )
    assert response.status_code == 422, response.text
    assert response.json()["message"] == (
        "step 'provision mock' failed: mock compute refuses to provision"
    )


def test_bad_input_is_a_clear_4xx_and_creates_nothing(stack: Stack, tenant: str) -> None:
    cases: list[tuple[dict[str, Any] | bytes, int, str]] = [
        (b"{not json", 400, "request is not JSON"),
        (b"[1, 2]", 400, "request must be a JSON object"),
        (
            {"tenant_id": tenant, "operation": "explode"},
            400,
            "invalid provision request: operation: input should be 'plan', 'provision', "
            "'update' or 'delete'",
        ),
        (
            {"tenant_id": tenant, "operation": "provision", "desired_config": {"port": "x"}},
            422,
            "desired_config.port: ",
        ),
        (
            {"tenant_id": tenant, "operation": "provision", "desired_config": {"colour": 1}},
            422,
            "desired_config.colour: is not a known key",
        ),
        (
            {"tenant_id": tenant, "operation": "provision", "compute_provider": "moon"},
            422,
            "compute_provider: unknown backend 'moon' (known: docker, ecs, local, mock)",
        ),
        (
            {"tenant_id": tenant, "operation": "provision", "blob": "x" * 300_000},
            413,
            "request is 300",
        ),
    ]
    for body, code, message in cases:
        execution = key(tenant, "bad")
        response = stack.client.call(execution, body)
        assert response.status_code == code, (
            body if isinstance(body, bytes) else "",
            response.text,
        )
        assert message in response.json()["message"]
        assert stack.client.status(execution)["events"] == []
    assert stack.processes(tenant) == []


def test_second_operation_on_a_tenant_waits_its_turn(stack: Stack, tenant: str) -> None:
    slow = key(tenant, "provision")
    stack.client.send(
        slow,
        {
            "tenant_id": tenant,
            "operation": "provision",
            "compute_provider": "mock",
            "desired_config": {"healthy_after": 3},
        },
    )
    stack.client.wait_for(slow, lambda s: s["phase"] == "provisioning")
    queued = f"{tenant}-delete-{uuid.uuid4().hex[:6]}"
    stack.client.send(
        queued, {"tenant_id": tenant, "operation": "delete", "compute_provider": "mock"}
    )
    waiting = stack.client.wait_for(queued, lambda s: "waiting" in event_types(s))
    assert waiting["phase"] == "requested"
    first = stack.client.attach(slow)
    second = stack.client.attach(queued)
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert first.json()["phase"] == "ready"
    assert second.json()["phase"] == "archived"
    first_done = stack.client.status(slow)["events"][-1]["at"]
    second_started = next(
        e["at"] for e in stack.client.status(queued)["events"] if e["phase"] == "deleting"
    )
    assert second_started >= first_done
