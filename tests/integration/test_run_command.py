"""`landlord-restate run` (what `make run` starts): the stack comes up with a demo tenant,
Ctrl-C takes it all down, and a second run resumes with the same Restate data and the same
secrets keyring, which the services get and restate-server does not."""

from __future__ import annotations

import contextlib
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from local_stack.keyring import LOCAL_KEY_ID, LOCAL_KEYRING_NAME, ensure_local_keyring
from local_stack.ports import free_port, free_ports
from sealing import KEYRING_ENV, KEYRING_FILE_ENV, Keyring
from tests.servers import environment_without_settings

READY_LINE = "Press Ctrl-C to stop."
DEADLINE_SECONDS = 90.0


class RunCommand:
    """One `landlord-restate run` process on given ports, read through its output files."""

    def __init__(
        self, work_dir: Path, ports: list[int], *, env: dict[str, str] | None = None
    ) -> None:
        self.work_dir = work_dir
        self.ingress, self.admin, self.services, self.node = ports
        self.metrics = free_port()
        self.env = {
            "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(self.metrics),
            **(env or {}),
        }
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
                env=environment_without_settings() | self.env,
            )
        return self.process

    def child(self, program: str) -> psutil.Process:
        """The started process whose command line runs `program` (restate-server, serve)."""
        assert self.process is not None
        found = [
            child
            for child in psutil.Process(self.process.pid).children()
            if any(Path(part).name == program for part in child.cmdline())
        ]
        assert len(found) == 1, [child.cmdline() for child in found]
        return found[0]

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


def _local_keyring_problems(command: RunCommand, keyring_file: Path) -> list[str]:
    """The services got the local keyring file, restate-server no keyring at all, and the
    output names the file but never the key."""
    problems = []
    if command.child("serve").environ().get(KEYRING_FILE_ENV) != str(keyring_file):
        problems.append(f"the services were not given {KEYRING_FILE_ENV}={keyring_file}")
    if {KEYRING_ENV, KEYRING_FILE_ENV} & set(command.child("restate-server").environ()):
        problems.append("restate-server was given a keyring")
    if f"secrets keyring: {keyring_file}" not in command.out:
        problems.append("the output does not name the keyring file")
    key = keyring_file.read_text().strip().partition("=")[2]
    if key in command.out + command.err:
        problems.append("the output shows the key")
    return problems


def test_run_brings_up_a_demo_tenant_and_resumes_with_the_same_data(
    run_command: Callable[[], RunCommand], tmp_path: Path
) -> None:
    """The same Restate data and the same secrets keyring: made once under the data dir (0600,
    one key) when the environment names none, and handed to the services."""
    keyring_file = tmp_path / ".restate" / LOCAL_KEYRING_NAME
    first = run_command()
    admin = f"http://127.0.0.1:{first.admin}"
    assert f"Admin UI: {admin}/ui/" in first.out
    assert "2/2 steps" in first.err
    services, node = f"http://127.0.0.1:{first.services}", f"http://127.0.0.1:{first.node}"
    control_plane = f"http://127.0.0.1:{first.metrics}/metrics"
    assert (
        f"metrics: {services}/metrics (services), {node}/metrics (Restate), "
        f"{control_plane} (control plane)"
    ) in first.out
    scraped = httpx.get(f"{services}/metrics", timeout=5).text
    assert (
        'landlord_tenant_operations_ended_total{operation="provision",outcome="succeeded"} 1.0'
        in scraped
    )
    assert 'workflow_operation="start_execution"' in httpx.get(control_plane, timeout=5).text
    assert httpx.get(f"{node}/metrics", timeout=5).status_code == 200
    assert httpx.get(f"{services}/health", timeout=5).json()["backends"][0]["backend"] == "local"
    endpoint = first.tenant_endpoint()
    assert httpx.get(endpoint + "/", timeout=5).json()["tenant"] == "demo"
    assert stat.S_IMODE(keyring_file.stat().st_mode) == 0o600
    keyring = keyring_file.read_text()
    assert list(Keyring.parse(keyring).keys) == [LOCAL_KEY_ID]
    assert _local_keyring_problems(first, keyring_file) == []
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
    assert keyring_file.read_text() == keyring
    assert _local_keyring_problems(second, keyring_file) == []
    assert second.interrupt() == 0
    assert [p.name for p in keyring_file.parent.iterdir() if "keyring" in p.name] == [
        LOCAL_KEYRING_NAME
    ]


def test_run_refuses_a_broken_keyring_of_the_users_and_makes_none(
    restate_binary: Path, tmp_path: Path
) -> None:
    """A keyring in the environment is the one used: a malformed one stops run at once (exit
    2, one line naming the variable, not its value), before anything starts or is made."""
    command = RunCommand(tmp_path, free_ports(4), env={KEYRING_ENV: "k1=not-a-key"})
    try:
        assert command.launch().wait(timeout=DEADLINE_SECONDS) == 2
    finally:
        command.kill()
    assert f"error: {KEYRING_ENV}: key 'k1' is not base64url of 32 bytes" in command.err
    assert "not-a-key" not in command.out + command.err
    assert not (tmp_path / ".restate").exists()


@pytest.mark.parametrize("variable", [KEYRING_ENV, KEYRING_FILE_ENV])
def test_a_keyring_the_user_names_is_used_and_none_is_made(variable: str, tmp_path: Path) -> None:
    """Either variable set: the local stack makes no file of its own (the services inherit
    the user's); a blank one counts as unset, as it does for `Keyring.from_environment`."""
    assert ensure_local_keyring(tmp_path, environ={variable: "set by the user"}) is None
    assert list(tmp_path.iterdir()) == []
    made = ensure_local_keyring(tmp_path / "data", environ={variable: "  "})
    assert made == tmp_path / "data" / LOCAL_KEYRING_NAME
    assert Keyring.from_environment({KEYRING_FILE_ENV: str(made)}) is not None


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
