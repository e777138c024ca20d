"""`landlord-restate run` (what `make run` starts): the stack comes up with a demo tenant,
Ctrl-C takes it all down, and a second run resumes with the same Restate data."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from local_stack.ports import free_ports
from tests.servers import environment_without_settings

READY_LINE = "Press Ctrl-C to stop."
DEADLINE_SECONDS = 90.0


class RunCommand:
    """One `landlord-restate run` process on given ports, read through its output files."""

    def __init__(self, work_dir: Path, ports: list[int]) -> None:
        self.work_dir = work_dir
        self.ingress, self.admin, self.services, self.node = ports
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def out(self) -> str:
        return (self.work_dir / "out.txt").read_text()

    @property
    def err(self) -> str:
        return (self.work_dir / "err.txt").read_text()

    def launch(self) -> subprocess.Popen[bytes]:
        script = Path(sys.executable).with_name("landlord-restate")
        with (
            (self.work_dir / "out.txt").open("wb") as out,
            (self.work_dir / "err.txt").open("wb") as err,
        ):
            self.process = subprocess.Popen(
                [
                    str(script),
                    "run",
                    f"--workflow.restate.endpoint=http://127.0.0.1:{self.ingress}",
                    f"--workflow.restate.admin_endpoint=http://127.0.0.1:{self.admin}",
                    f"--workflow.restate.deployment_uri=http://127.0.0.1:{self.services}",
                    "--node-port",
                    str(self.node),
                ],
                cwd=self.work_dir,
                stdout=out,
                stderr=err,
                env=environment_without_settings(),
            )
        return self.process

    def start(self) -> None:
        process = self.launch()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while READY_LINE not in self.out:
            assert process.poll() is None, f"run exited early:\n{self.out}\n{self.err}"
            assert time.monotonic() < deadline, f"run not ready:\n{self.out}\n{self.err}"
            time.sleep(0.05)

    def tenant_endpoint(self) -> str:
        match = re.search(r"tenant 'demo' is up at (\S+)", self.out)
        assert match, self.out
        return match.group(1)

    def interrupt(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        """SIGKILL the command and the server and services it started (own sessions)."""
        if self.process is None or self.process.poll() is not None:
            return
        children = psutil.Process(self.process.pid).children(recursive=True)
        for process in [*children, psutil.Process(self.process.pid)]:
            with contextlib.suppress(psutil.Error):
                process.kill()
        self.process.wait()
        psutil.wait_procs(children, timeout=10)


@pytest.fixture
def run_command(tmp_path: Path, restate_binary: Path) -> Iterator[Callable[[], RunCommand]]:
    ports = free_ports(4)
    started: list[RunCommand] = []

    def start() -> RunCommand:
        command = RunCommand(tmp_path, ports)
        started.append(command)
        command.start()
        return command

    yield start
    for command in started:
        command.kill()


def _demo_runs(admin: str) -> list[str]:
    response = httpx.post(
        f"{admin}/query",
        json={
            "query": "SELECT target_service_key FROM sys_invocation "
            "WHERE target_service_name = 'TenantProvisioning' AND target_handler_name = 'run'"
        },
        headers={"Accept": "application/json"},
        timeout=30,
    )
    return sorted(row["target_service_key"] for row in response.json()["rows"])


def test_run_brings_up_a_demo_tenant_and_resumes_with_the_same_data(
    run_command: Callable[[], RunCommand], tmp_path: Path
) -> None:
    first = run_command()
    admin = f"http://127.0.0.1:{first.admin}"
    assert f"Admin UI: {admin}/ui/" in first.out
    assert "2/2 steps" in first.err
    endpoint = first.tenant_endpoint()
    assert httpx.get(endpoint + "/", timeout=5).json()["tenant"] == "demo"
    assert first.interrupt() == 0
    assert "stopped." in first.err
    with pytest.raises(httpx.ConnectError):
        httpx.get(endpoint + "/health", timeout=5)
    assert (tmp_path / ".restate" / "restate-server.log").is_file()

    second = run_command()
    runs = _demo_runs(admin)
    assert [run.split("-")[1] for run in runs].count("provision") == 2
    assert [run.split("-")[1] for run in runs].count("delete") == 1
    assert httpx.get(second.tenant_endpoint() + "/health", timeout=5).status_code == 200
    assert second.interrupt() == 0


def test_run_reports_a_port_in_use(run_command: Callable[[], RunCommand], tmp_path: Path) -> None:
    first = run_command()
    clash = RunCommand(
        tmp_path / "second", [first.ingress, first.admin, first.services, first.node]
    )
    clash.work_dir.mkdir()
    try:
        assert clash.launch().wait(timeout=DEADLINE_SECONDS) == 1
    finally:
        clash.kill()
    assert "error: " in clash.err
    assert "already in use" in clash.err
    assert first.interrupt() == 0
