"""A Docker engine for the container tier: the one at DOCKER_HOST / the default socket if it
answers, else a `dockerd` of our own (Debian's docker.io, vfs storage, installed when missing),
stopped again when the tier ends. When none can be had, `EngineUnavailableError` says why."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from local_stack.install import default_cache_dir
from tests import apt

__all__ = ["Engine", "EngineUnavailableError", "ensure_engine", "root_prefix"]

START_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 20.0
APT_PACKAGES = ("docker.io", "docker-compose", "debootstrap")
APT_COMMANDS = ("dockerd", "docker-compose", "debootstrap")
"""dockerd (with containerd, runc), compose for the stack test, debootstrap for the base image."""


class EngineUnavailableError(RuntimeError):
    """No engine answers and none could be started; the message says why, in one line."""


@dataclass
class Engine:
    """A reachable engine: its address, a client, and the dockerd we started (if we did)."""

    host: str
    client: Any
    process: subprocess.Popen[bytes] | None = None
    run_dir: Path | None = None
    root_prefix: tuple[str, ...] = ()

    @property
    def log_path(self) -> Path | None:
        return self.run_dir / "dockerd.log" if self.run_dir else None

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Close the client; stop dockerd only if this tier started it, and remove its run
        directory (dockerd leaves its network namespace mounted there)."""
        if self.client is not None:
            if self.process is not None:  # our own engine: drop what rebuilt tags left behind
                self.client.images.prune(filters={"dangling": True})
            self.client.close()
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.run_dir is not None:
            for namespace in (self.run_dir / "exec" / "netns").glob("*"):
                subprocess.run([*self.root_prefix, "umount", str(namespace)], capture_output=True)
            shutil.rmtree(self.run_dir, ignore_errors=True)


def _client(host: str | None) -> Any | None:
    """A client for the engine at `host` (None: the environment's), if it answers ping."""
    try:
        client = docker.DockerClient(base_url=host, timeout=300) if host else docker.from_env()
        client.ping()
    except (docker.errors.DockerException, OSError):
        return None
    return client


def root_prefix() -> list[str]:
    """How to run a command as root here (see `tests.apt.root_prefix`)."""
    try:
        return apt.root_prefix()
    except apt.AptUnavailableError as error:
        raise EngineUnavailableError(f"{error} (dockerd needs root)") from None


def ensure_engine(*, say: Callable[[str], None]) -> Engine:
    """An engine that answers: an existing one, else a dockerd started with its socket and state
    in a fresh temporary directory and its images under the user cache (reused by the next
    run)."""
    existing = os.environ.get("DOCKER_HOST")
    client = _client(existing)
    if client is not None:
        return Engine(host=existing or "the default socket", client=client)
    prefix = root_prefix()
    try:
        apt.ensure_apt_packages(APT_COMMANDS, APT_PACKAGES, say=say)
    except apt.AptUnavailableError as error:
        raise EngineUnavailableError(str(error)) from None
    run_dir = Path(tempfile.mkdtemp(prefix="landlord-dockerd-"))
    socket = run_dir / "docker.sock"
    host = f"unix://{socket}"
    log_path = run_dir / "dockerd.log"
    data_root = default_cache_dir() / "docker"
    data_root.mkdir(parents=True, exist_ok=True)
    say(f"starting dockerd (vfs storage, images kept in {data_root})")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *prefix,
                "dockerd",
                "--storage-driver=vfs",
                f"--data-root={data_root}",
                f"--exec-root={run_dir / 'exec'}",
                f"--pidfile={run_dir / 'dockerd.pid'}",
                f"--host={host}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    engine = Engine(
        host=host, client=None, process=process, run_dir=run_dir, root_prefix=tuple(prefix)
    )
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            last = (engine.log_tail(5).splitlines() or ["no output"])[-1]
            engine.stop()
            raise EngineUnavailableError(f"dockerd exited ({process.returncode}): {last}")
        client = _client(host) if socket.exists() else None
        if client is not None:
            engine.client = client
            return engine
        time.sleep(0.2)
    engine.stop()
    raise EngineUnavailableError(f"dockerd did not answer within {START_DEADLINE_SECONDS:.0f}s")
