"""kill -9 of the services process in the middle of `provision`, then a restart: the workflow
completes and each tenant has exactly one process (no step's side effect happened twice)."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local_stack import LocalRestateServer
from services.compute import LocalBackend, TenantRef
from tests.servers import AsgiProcess

from .callbacks import CallbackServer
from .client import TenantClient
from .conftest import register, start_services
from .test_operations import key, request

# A tenant app that takes a while to become healthy, so the workflow spends time waiting.
SLOW_START = [
    sys.executable,
    "-c",
    "import time, os, runpy, sys; time.sleep(1.5); "
    "sys.argv = ['tenant_app', '--port', os.environ['PORT']]; "
    "runpy.run_module('services.compute.tenant_app', run_name='__main__')",
]


class CrashStack:
    """A services process of this test's own, on a fixed port, that can be killed and
    started again."""

    def __init__(self, server: LocalRestateServer, work_dir: Path) -> None:
        self.state_dir = work_dir / "tenants"
        self.services: AsgiProcess = start_services(work_dir / "services", self.state_dir)
        register(server, self.services)
        self.client = TenantClient(ingress_url=server.ingress_url, admin_url=server.admin_url)
        self.backend = LocalBackend(state_dir=self.state_dir)

    def crash_and_restart(self) -> None:
        self.services.kill()
        self.services.start()

    def report_sections(self) -> list[tuple[str, str]]:
        return [("services log tail", self.services.log_tail())]


@pytest.fixture
def crash_stack(restate_server: LocalRestateServer, tmp_path: Path) -> Iterator[CrashStack]:
    (tmp_path / "services").mkdir()
    stack = CrashStack(restate_server, tmp_path)
    try:
        yield stack
    finally:
        stack.client.close()
        stack.services.stop()


@pytest.fixture
def tenant(crash_stack: CrashStack) -> Iterator[str]:
    """A fresh tenant id; its processes are stopped afterwards."""
    tenant_id = f"crash-{uuid.uuid4().hex[:10]}"
    yield tenant_id
    asyncio.run(crash_stack.backend.destroy(TenantRef(tenant_id=tenant_id)))


def finish(stack: CrashStack, execution: str, tenant: str) -> dict[str, object]:
    response = stack.client.attach(execution)
    assert response.status_code == 200, response.text
    processes = stack.backend.processes(TenantRef(tenant_id=tenant))
    assert len(processes) == 1, processes
    result: dict[str, object] = response.json()
    endpoints = result["endpoints"]
    assert isinstance(endpoints, dict)
    assert httpx.get(endpoints["http"] + "/health", timeout=5).status_code == 200
    return result


@pytest.mark.parametrize("when", ["provision step done", "waiting for health", "early"])
def test_crash_during_provision(crash_stack: CrashStack, tenant: str, when: str) -> None:
    execution = key(tenant, "provision")
    crash_stack.client.send(
        execution, request(tenant, "provision", desired_config={"command": SLOW_START})
    )
    if when == "provision step done":
        crash_stack.client.wait_for(execution, lambda s: s["steps_done"] == 1)
    elif when == "waiting for health":
        crash_stack.client.wait_for(
            execution, lambda s: (s["step"] or "").startswith("health check 2")
        )
    crash_stack.crash_and_restart()
    result = finish(crash_stack, execution, tenant)
    assert result["phase"] == "ready"
    status = crash_stack.client.status(execution)
    assert [e["phase"] for e in status["events"] if e["type"] == "transition"] == [
        "provisioning",
        "ready",
    ]


def test_crash_during_a_callback_delivers_it_again_with_the_same_key(
    crash_stack: CrashStack, tenant: str
) -> None:
    with CallbackServer() as control_plane:
        control_plane.hold.clear()
        execution = key(tenant, "provision")
        crash_stack.client.send(
            execution, request(tenant, "provision", api_base_url=control_plane.url)
        )
        assert control_plane.arrived.wait(timeout=30)
        crash_stack.crash_and_restart()
        control_plane.hold.set()
        finish(crash_stack, execution, tenant)
    keys = [k for k, _ in control_plane.received]
    assert keys[0] == keys[1]  # the interrupted POST was retried with the same key
    assert control_plane.phases() == ["provisioning", "ready"]
