"""`landlord-restate serve --register`: the deployment serves, registers itself once up, and
answers through Restate; registration failures are reported, not hidden."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from provider.restate import LocalRestateServer
from provider.restate.ports import free_port
from services.serving import RegistrationError, register_deployment

DEADLINE_SECONDS = 60.0


@pytest.fixture
def serve_process(
    restate_server: LocalRestateServer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("landlord-restate")),
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--register",
                restate_server.admin_url,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LANDLORD_SERVICES_STATE_DIR": str(tmp_path / "tenants")},
        )
    try:
        yield process, log
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_serve_registers_itself_and_answers(
    restate_server: LocalRestateServer, serve_process: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, log = serve_process
    deadline = time.monotonic() + DEADLINE_SECONDS
    with httpx.Client(timeout=30, trust_env=False) as client:
        while '"event": "registered"' not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        service = client.get(f"{restate_server.admin_url}/services/TenantProvisioning")
        assert service.status_code == 200, service.text
        assert service.json()["ty"] == "Workflow"
        planned = client.post(
            f"{restate_server.ingress_url}/restate/call/TenantProvisioning/serve-plan-1/run",
            json={"tenant_id": "serve-1", "operation": "plan", "compute_provider": "mock"},
        )
        assert planned.status_code == 200, planned.text
        assert planned.json()["plan"][0]["action"] == "create"


def test_registration_gives_up_on_an_unreachable_admin_api() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RegistrationError, match=r"gave up registering .*ConnectError"):
        register_deployment(closed, "http://127.0.0.1:9", attempts=2, timeout=5)


def test_registration_refused_is_not_retried(restate_server: LocalRestateServer) -> None:
    started = time.monotonic()
    with pytest.raises(RegistrationError, match=r"refused not-a-uri: 400"):
        register_deployment(restate_server.admin_url, "not-a-uri", attempts=5)
    assert time.monotonic() - started < 5
