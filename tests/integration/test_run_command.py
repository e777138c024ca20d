"""`landlord-restate run` (what `make run` starts): up, usable, Ctrl-C, and up again with the
same data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from provider.restate.ports import free_ports

READY_LINE = "Press Ctrl-C to stop."
DEADLINE_SECONDS = 60.0


class RunCommand:
    """One `landlord-restate run` process on given ports, read through its output files."""

    def __init__(self, work_dir: Path, ports: list[int]) -> None:
        self.work_dir = work_dir
        self.ingress, self.admin, self.node = ports
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
                    "--node-port",
                    str(self.node),
                ],
                cwd=self.work_dir,
                stdout=out,
                stderr=err,
                env={k: v for k, v in os.environ.items() if not k.startswith("LANDLORD_WORKFLOW")},
            )
        return self.process

    def start(self) -> None:
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + DEADLINE_SECONDS
        while READY_LINE not in self.out:
            assert self.process.poll() is None, f"run exited early:\n{self.out}\n{self.err}"
            assert time.monotonic() < deadline, f"run not ready:\n{self.out}\n{self.err}"
            time.sleep(0.05)

    def interrupt(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def run_command(tmp_path: Path, restate_binary: Path) -> Iterator[Callable[[], RunCommand]]:
    ports = free_ports(3)
    started: list[RunCommand] = []

    def start() -> RunCommand:
        command = RunCommand(tmp_path, ports)
        started.append(command)
        command.start()
        return command

    yield start
    for command in started:
        command.kill()


def test_run_serves_until_ctrl_c_and_resumes_with_the_same_data(
    run_command: Callable[[], RunCommand], serve_asgi: Callable[[str], str], tmp_path: Path
) -> None:
    first = run_command()
    admin = f"http://127.0.0.1:{first.admin}"
    assert f"Admin UI: {admin}/ui/" in first.out
    app_url = serve_asgi("tests.integration.apps.greeter:app")
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        registered = client.post(f"{admin}/deployments", json={"uri": app_url})
        assert registered.status_code == 201, registered.text
        call = client.post(
            f"http://127.0.0.1:{first.ingress}/restate/call/Greeter/greet", json="run"
        )
        assert call.json() == "Hello, run!"
    assert first.interrupt() == 0
    assert "stopped." in first.err
    assert (tmp_path / ".restate").is_dir()

    second = run_command()
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        deployments = client.get(f"{admin}/deployments").json()["deployments"]
        assert [d["id"] for d in deployments] == [registered.json()["id"]]
        call = client.post(
            f"http://127.0.0.1:{second.ingress}/restate/call/Greeter/greet", json="again"
        )
        assert call.json() == "Hello, again!"
    assert second.interrupt() == 0


def test_run_reports_a_port_in_use(run_command: Callable[[], RunCommand], tmp_path: Path) -> None:
    first = run_command()
    clash = RunCommand(tmp_path / "second", [first.ingress, first.admin, first.node])
    clash.work_dir.mkdir()
    try:
        assert clash.launch().wait(timeout=DEADLINE_SECONDS) == 1
    finally:
        clash.kill()
    assert clash.err.startswith("starting restate-server")
    assert "error: " in clash.err
    assert "already in use" in clash.err
    assert first.interrupt() == 0
