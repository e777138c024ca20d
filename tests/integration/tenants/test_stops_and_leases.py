"""Every tenant ends in a known state: stops sent any number of times at any moment, holders
that Restate killed or paused, waiters that were killed. Compensations run exactly once, the
tenant is released, and the next operation finds the real state of the compute."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import environment_without_settings

from .conftest import Stack
from .test_failures import NEVER_HEALTHY, event_types
from .test_operations import key, request

# A tenant process that ignores SIGTERM: destroying it takes the local backend's whole stop
# grace (5 s) before SIGKILL, so the compensation runs long enough to be stopped again.
SLOW_TO_STOP = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)",
]
LEASE_GRACE_SECONDS = 2.0  # LANDLORD_SERVICES_LOCK_GRACE of the test stack


def compensations(stack: Stack, invocation: str) -> list[str]:
    """The compensation steps in the journal (each must appear once)."""
    return [name for name in stack.client.journal_names(invocation) if name.startswith("compen")]


def ended_cancelled_and_clean(stack: Stack, execution: str, invocation: str, tenant: str) -> None:
    status = stack.client.status(execution)
    assert status["outcome"] == "cancelled", status
    assert status["phase"] == "failed"
    assert event_types(status).count("compensated") == 1, event_types(status)
    assert compensations(stack, invocation) == ["compensate provision local"]
    assert stack.processes(tenant) == []
    stack.client.wait_unlocked(tenant)


def stop_repeatedly(stack: Stack, invocation: str, times: int) -> None:
    """Send `times` stops in a row, as a control plane retrying its stop does; each is
    accepted (202) or finds the execution already ended (409)."""
    for _ in range(times):
        response = stack.client.http.patch(f"{stack.client.admin}/invocations/{invocation}/cancel")
        assert response.status_code in (202, 409), response.text


def provisioning(stack: Stack, tenant: str, command: list[str], **fields: Any) -> tuple[str, str]:
    """Start a provision whose tenant runs `command`; return (key, invocation id) once it is
    waiting for the tenant to be healthy (its compute exists)."""
    execution = key(tenant, "provision")
    invocation = stack.client.send(
        execution, request(tenant, "provision", desired_config={"command": command}, **fields)
    )
    stack.client.wait_for(execution, lambda s: (s["step"] or "").startswith("health check"))
    return execution, invocation


def test_repeated_stops_mid_step_compensate_once(stack: Stack, tenant: str) -> None:
    execution, invocation = provisioning(stack, tenant, NEVER_HEALTHY)
    stop_repeatedly(stack, invocation, 5)
    result = stack.client.attach(execution)
    assert result.status_code == 409, result.text
    assert result.json()["message"].startswith("cancelled during health check")
    ended_cancelled_and_clean(stack, execution, invocation, tenant)


def test_stops_during_compensation_change_nothing(stack: Stack, tenant: str) -> None:
    execution, invocation = provisioning(stack, tenant, SLOW_TO_STOP)
    stack.client.cancel(invocation)
    stack.client.wait_for(execution, lambda s: (s["step"] or "").startswith("compensate"))
    stop_repeatedly(stack, invocation, 3)
    result = stack.client.attach(execution)
    assert result.status_code == 409, result.text
    assert result.json()["message"].startswith("cancelled during health check")
    ended_cancelled_and_clean(stack, execution, invocation, tenant)


def test_stops_during_a_timeout_keep_it_timed_out(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    invocation = stack.client.send(
        execution,
        request(tenant, "provision", desired_config={"command": SLOW_TO_STOP}, timeout="2s"),
    )
    stack.client.wait_for(execution, lambda s: (s["step"] or "").startswith("compensate"))
    stop_repeatedly(stack, invocation, 3)
    result = stack.client.attach(execution)
    assert result.status_code == 408, result.text
    status = stack.client.status(execution)
    assert status["outcome"] == "timed_out"
    assert compensations(stack, invocation) == ["compensate provision local"]
    assert stack.processes(tenant) == []
    stack.client.wait_unlocked(tenant)


def test_stops_before_the_first_step_leave_nothing(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    invocation = stack.client.send(execution, request(tenant, "provision"))
    stop_repeatedly(stack, invocation, 3)
    result = stack.client.attach(execution)
    assert result.status_code == 409, result.text
    assert stack.processes(tenant) == []
    stack.client.wait_unlocked(tenant)


def test_a_stop_after_the_end_changes_nothing(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    invocation = stack.client.send(
        execution, {"tenant_id": tenant, "operation": "provision", "compute_provider": "mock"}
    )
    assert stack.client.attach(execution).status_code == 200
    before = stack.client.status(execution)
    stop_repeatedly(stack, invocation, 2)
    assert stack.client.attach(execution).status_code == 200
    assert stack.client.status(execution) == before


def delete_after(stack: Stack, tenant: str, **fields: Any) -> tuple[str, httpx.Response, float]:
    """Start a delete of the tenant; wait for its result. Returns key, result, seconds taken."""
    execution = f"{tenant}-delete-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    stack.client.send(execution, request(tenant, "delete", **fields))
    result = stack.client.attach(execution)
    return execution, result, time.monotonic() - started


def test_a_killed_holder_loses_the_tenant_at_its_deadline(stack: Stack, tenant: str) -> None:
    holder, invocation = provisioning(stack, tenant, NEVER_HEALTHY, timeout="4s")
    stack.client.kill(invocation)
    assert stack.client.lock_holder(tenant) == holder
    assert "expire" not in stack.client.lock_calls(tenant)  # nobody waits: no timer yet
    assert len(stack.processes(tenant)) == 1  # left behind by the killed run
    execution, result, took = delete_after(stack, tenant)
    assert result.status_code == 200, result.text
    assert "waiting" in event_types(stack.client.status(execution))
    assert took < 4 + LEASE_GRACE_SECONDS + 10
    assert stack.processes(tenant) == []  # the delete found the leftover and destroyed it
    stack.client.wait_unlocked(tenant)
    assert stack.client.lock_calls(tenant).count("expire") == 1  # the waiter's wake-up


def test_a_lease_nobody_waited_for_has_ended_when_the_next_operation_asks(
    stack: Stack, tenant: str
) -> None:
    """No timer frees an uncontended tenant; the next operation finds the lease ended itself."""
    holder, invocation = provisioning(stack, tenant, NEVER_HEALTHY, timeout="4s")
    stack.client.kill(invocation)
    assert stack.client.lock_holder(tenant) == holder
    lease_until = float(stack.client.lock_state(tenant, "lease_until"))
    deadline = time.monotonic() + 4 + LEASE_GRACE_SECONDS + 30
    while time.time() <= lease_until:  # the clock passing the lease, polled with a deadline
        assert time.monotonic() < deadline, "the lease never ended"
        time.sleep(0.05)
    assert stack.client.lock_holder(tenant) == holder  # nothing freed it: nobody was waiting
    execution, result, _ = delete_after(stack, tenant)
    assert result.status_code == 200, result.text
    assert "waiting" not in event_types(stack.client.status(execution))
    assert stack.processes(tenant) == []
    stack.client.wait_unlocked(tenant)
    assert "expire" not in stack.client.lock_calls(tenant)


def test_a_killed_waiter_never_blocks_the_tenant(stack: Stack, tenant: str) -> None:
    first, _ = provisioning(stack, tenant, NEVER_HEALTHY, health_timeout="5s")
    waiter = f"{tenant}-delete-{uuid.uuid4().hex[:6]}"
    killed = stack.client.send(waiter, request(tenant, "delete", timeout="2s"))
    stack.client.wait_for(waiter, lambda s: "waiting" in event_types(s))
    stack.client.kill(killed)
    execution, result, _ = delete_after(stack, tenant)
    assert result.status_code == 200, result.text
    assert stack.client.attach(first).status_code == 500  # never healthy
    first_ended = stack.client.status(first)["events"][-1]["at"]
    deleting = next(
        e["at"] for e in stack.client.status(execution)["events"] if e["phase"] == "deleting"
    )
    assert deleting >= first_ended
    assert stack.processes(tenant) == []
    stack.client.wait_unlocked(tenant)


def test_a_paused_holder_loses_the_tenant_and_never_undoes_the_next_one(
    stack: Stack, tenant: str
) -> None:
    if stack.mode != "normal":
        pytest.skip("a server that suspends at every step wakes a paused run at its next timer")
    paused, invocation = provisioning(stack, tenant, NEVER_HEALTHY, timeout="3s")
    response = stack.client.http.patch(f"{stack.client.admin}/invocations/{invocation}/pause")
    assert response.status_code in (200, 202), response.text
    # The next operations get the tenant once the paused run's lease has run out: a delete
    # clears what the paused run left, a provision makes the tenant anew.
    _, deleted, _ = delete_after(stack, tenant)
    assert deleted.status_code == 200, deleted.text
    result = stack.client.call(key(tenant, "provision"), request(tenant, "provision"))
    assert result.status_code == 200, result.text
    assert len(stack.processes(tenant)) == 1
    # Resumed after its deadline, the paused run ends timed out, and does not destroy what
    # the next operation made: the tenant is no longer its to compensate.
    response = stack.client.http.patch(f"{stack.client.admin}/invocations/{invocation}/resume")
    assert response.status_code in (200, 202), response.text
    assert stack.client.attach(paused).status_code == 408
    assert "compensation skipped" in event_types(stack.client.status(paused))
    assert compensations(stack, invocation) == []
    served = httpx.get(result.json()["endpoints"]["http"] + "/health", timeout=5)
    assert served.status_code == 200
    stack.client.wait_unlocked(tenant)


def unlock(stack: Stack, tenant: str) -> subprocess.CompletedProcess[str]:
    """`landlord-restate tenant unlock TENANT` against the stack's server."""
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("landlord-restate")),
            "tenant",
            "unlock",
            tenant,
            f"--workflow.restate.endpoint={stack.server.ingress_url}",
            f"--workflow.restate.admin_endpoint={stack.server.admin_url}",
        ],
        capture_output=True,
        text=True,
        env=environment_without_settings(),
        timeout=60,
    )


def test_an_operator_frees_a_tenant_at_once(stack: Stack, tenant: str) -> None:
    holder, invocation = provisioning(stack, tenant, NEVER_HEALTHY)
    stack.client.kill(invocation)  # its lease would last its whole 30-minute deadline
    freed = unlock(stack, tenant)
    assert (freed.returncode, freed.stdout) == (
        0,
        f"tenant {tenant} freed: removed holder {holder}\n",
    )
    stack.client.wait_unlocked(tenant)
    _, deleted, took = delete_after(stack, tenant)
    assert deleted.status_code == 200, deleted.text
    assert took < 30
    assert stack.processes(tenant) == []
    again = unlock(stack, tenant)
    assert (again.returncode, again.stdout) == (
        0,
        f"tenant {tenant} is not held by any operation\n",
    )
    hostile = unlock(stack, "../../etc; rm -rf /")
    assert hostile.returncode == 1
    assert hostile.stderr.splitlines()[0] == "error: invalid request"
    assert "tenant_id: must match" in hostile.stderr


def test_an_unlock_hands_the_tenant_to_the_operation_waiting_for_it(
    stack: Stack, tenant: str
) -> None:
    """The lock is private, so the unlock rewrites its state through the admin API and wakes
    the waiters; the one first in line asks again and gets the tenant at once."""
    _, invocation = provisioning(stack, tenant, NEVER_HEALTHY)
    stack.client.kill(invocation)  # its lease would last its whole 30-minute deadline
    waiter = f"{tenant}-delete-{uuid.uuid4().hex[:6]}"
    waiting = stack.client.send(waiter, request(tenant, "delete"))
    stack.client.wait_for(waiter, lambda status: "waiting" in event_types(status))
    started = time.monotonic()
    assert unlock(stack, tenant).returncode == 0
    result = stack.client.attach(waiter)
    assert result.status_code == 200, result.text
    assert time.monotonic() - started < 30
    assert stack.processes(tenant) == []  # the delete found the leftover and destroyed it
    calls = stack.client.query(
        f"SELECT index FROM sys_journal WHERE id = '{waiting}' AND entry_type = 'Command: Call'"
    )
    assert len(calls) == 2  # woken, it asked the lock again rather than assume the tenant
    stack.client.wait_unlocked(tenant)
