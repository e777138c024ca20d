"""Serving the deployment: `python -m services` (the image's entry point) and
`landlord-restate serve --register`, which registers through the same path as
`landlord-restate register`, so the workflow can be started right after."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from local_stack import LocalRestateServer
from local_stack.ports import free_port
from provider import ExecutionInput, ExecutionState
from provider.config import RestateSettings
from provider.restate import BUILTIN_WORKFLOW_ID, RestateProvider

DEADLINE_SECONDS = 60.0
CLI = str(Path(sys.executable).with_name("landlord-restate"))


def _serve(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "LANDLORD_SERVICES_STATE_DIR": str(tmp_path / "tenants")},
        )
    return process, log


@pytest.fixture
def stop() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)


def _serve_registered(
    server: LocalRestateServer, tmp_path: Path, stop: list[subprocess.Popen[bytes]]
) -> Path:
    """`landlord-restate serve --register` against `server`, once it says it registered."""
    port = free_port()
    process, log = _serve(
        [CLI, "serve", "--bind", f"127.0.0.1:{port}", "--register", server.admin_url], tmp_path
    )
    stop.append(process)
    _wait_for(log, '"event": "registered"', process)
    return log


async def _plan(server: LocalRestateServer, name: str) -> None:
    """Plan tenant `name` (mock compute) through the provider, and wait for its success."""
    provider = RestateProvider(
        RestateSettings(endpoint=server.ingress_url, admin_endpoint=server.admin_url)
    )
    try:
        started = await provider.start_execution(
            BUILTIN_WORKFLOW_ID,
            ExecutionInput(
                execution_name=f"{name}-plan",
                input={"tenant_id": name, "operation": "plan", "compute_provider": "mock"},
            ),
        )
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not (
            status := await provider.get_execution_status(started.execution_id)
        ).state.is_terminal:
            assert time.monotonic() < deadline
        assert status.state is ExecutionState.SUCCEEDED
    finally:
        await provider.aclose()


async def test_serve_register_leaves_a_workflow_that_can_be_started(
    restate_server: LocalRestateServer, tmp_path: Path, stop: list[subprocess.Popen[bytes]]
) -> None:
    _serve_registered(restate_server, tmp_path, stop)
    await _plan(restate_server, "serve-1")


async def test_serve_logs_each_event_once_while_restate_replays_every_step(
    restate_binary: Path, tmp_path: Path, stop: list[subprocess.Popen[bytes]]
) -> None:
    with LocalRestateServer(
        binary=restate_binary,
        data_dir=tmp_path / "restate",
        extra_env={"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "0s"},
    ) as replaying:
        log = _serve_registered(replaying, tmp_path, stop)
        await _plan(replaying, "serve-2")
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines if line.get("execution_name") == "serve-2-plan"]
    assert events.count("requested") == 1, events
    assert events.count("transition") == 2, events


def test_serve_reports_a_registration_that_gave_up_and_keeps_serving(
    tmp_path: Path, stop: list[subprocess.Popen[bytes]]
) -> None:
    port, closed = free_port(), f"http://127.0.0.1:{free_port()}"
    process, log = _serve(
        [
            CLI,
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--register",
            closed,
            "--register-wait",
            "1s",
        ],
        tmp_path,
    )
    stop.append(process)
    _wait_for(log, '"event": "registration failed"', process)
    assert closed in log.read_text()
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).is_success


def test_python_m_services_serves_without_the_cli(
    tmp_path: Path, stop: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    process, log = _serve(
        [sys.executable, "-m", "services", "--bind", f"127.0.0.1:{port}"], tmp_path
    )
    stop.append(process)
    _wait_for(log, '"event": "serving"', process)
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            answered = httpx.get(f"http://127.0.0.1:{port}/discover", timeout=5)
        except httpx.TransportError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
            continue
        break
    assert answered.status_code in (200, 415), answered.text


def test_python_m_services_refuses_a_bad_bind_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services", "--bind", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "python -m services: error: --bind: expected HOST:PORT, got 'nowhere'"
    )
