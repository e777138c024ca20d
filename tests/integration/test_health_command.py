"""`landlord-restate health` as an operator runs it, against a server of its own (so no other
test's workflows are in it): healthy once the tenant workflow is registered, unhealthy (exit
1, the failing check named) when the services are gone or the server cannot be reached."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_stack import LocalRestateServer
from local_stack.install import RESTATE_SERVER_VERSION
from tests.servers import AsgiProcess, environment_without_settings

SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))


@pytest.fixture(scope="module")
def server(own_restate_server: LocalRestateServer) -> LocalRestateServer:
    return own_restate_server


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsgiProcess]:
    work = tmp_path_factory.mktemp("health-services")
    process = AsgiProcess(
        app_ref="services.app:app",
        work_dir=work,
        env={"LANDLORD_SERVICES_STATE_DIR": str(work / "tenants")},
    )
    process.start()
    yield process
    process.stop()


def _landlord(
    server: LocalRestateServer, services: AsgiProcess, *args: str
) -> subprocess.CompletedProcess[str]:
    env = environment_without_settings() | {
        "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": server.ingress_url,
        "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT": server.admin_url,
        "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI": services.url,
        "LANDLORD_WORKFLOW_RESTATE_RETRY_ATTEMPTS": "0",
    }
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)


def test_healthy_once_registered_then_unhealthy_without_the_services(
    server: LocalRestateServer, services: AsgiProcess
) -> None:
    assert _landlord(server, services, "register").returncode == 0

    healthy = _landlord(server, services, "health", "-o", "json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    report = json.loads(healthy.stdout)
    assert report["healthy"] is True
    assert {c["name"]: c["ok"] for c in report["checks"]} == {
        "admin API": True,
        "ingress": True,
        "server version": True,
        f"deployment {services.url}": True,
    }
    version = next(c for c in report["checks"] if c["name"] == "server version")
    assert version["detail"] == f"{RESTATE_SERVER_VERSION} (pinned {RESTATE_SERVER_VERSION})"
    assert report["workflows"] == {"tenant-provisioning": True}

    table = _landlord(server, services, "health")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0] == "restate: healthy"
    assert "  ok   tenant-provisioning: available" in table.stdout.splitlines()
    assert table.stderr == ""

    services.stop()
    try:
        gone = _landlord(server, services, "health")
        assert gone.returncode == 1
        lines = gone.stdout.splitlines()
        assert lines[0] == "restate: unhealthy"
        failing = [line for line in lines if line.startswith("  FAIL")]
        assert len(failing) == 1
        assert failing[0].startswith(f"  FAIL deployment {services.url}: ")
    finally:
        services.start()


def test_an_unreachable_server_is_unhealthy_in_one_line_per_check(
    server: LocalRestateServer, services: AsgiProcess
) -> None:
    result = _landlord(
        server,
        services,
        "health",
        "--workflow.restate.admin_endpoint=http://127.0.0.1:9",
        "--workflow.restate.endpoint=http://127.0.0.1:9",
    )
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "restate: unhealthy",
        "  FAIL admin API: cannot reach http://127.0.0.1:9: ConnectError",
        "  FAIL ingress: cannot reach http://127.0.0.1:9: ConnectError",
    ]
