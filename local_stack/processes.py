"""`HttpProcess`: a child process that serves HTTP, started in its own session (so a signal
to it reaches its whole group and Ctrl-C in a terminal does not), ready when `GET /health`
answers 200, stopped with SIGTERM and then SIGKILL. The local stack, the tests and the
benchmarks all run their deployments through it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

__all__ = ["HttpProcess", "HttpProcessError"]

_POLL_SECONDS = 0.05


class HttpProcessError(RuntimeError):
    """The process exited at start or never answered its health check; the message has the
    tail of its output."""


class HttpProcess:
    """One process serving `url`, its output appended to `log_path`."""

    def __init__(
        self,
        *,
        name: str,
        command: Sequence[str],
        url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.url = url.rstrip("/")
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the process has been started and has not exited."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    def start(self, *, timeout: float = 60.0) -> None:
        """Spawn the process and poll `/health` until it answers 200."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - a command of the project's own
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        problem = "not probed yet"
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise HttpProcessError(
                        f"{self.name} exited with code {code} at start ({self.log_path}):\n"
                        f"{self.log_tail()}"
                    )
                try:
                    response = client.get(f"{self.url}/health")
                except httpx.HTTPError as error:
                    problem = type(error).__name__
                else:
                    if response.status_code == 200:
                        return
                    problem = f"/health answered {response.status_code}"
                if time.monotonic() >= deadline:
                    self.stop()
                    raise HttpProcessError(
                        f"{self.name} not ready on {self.url} after {timeout:.0f}s ({problem}; "
                        f"{self.log_path}):\n{self.log_tail()}"
                    )
                time.sleep(_POLL_SECONDS)

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, sig)

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds. Idempotent."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process group at once (a crash). Idempotent."""
        process = self._process
        if process is not None and process.poll() is None:
            self._signal(signal.SIGKILL)
            process.wait()

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the process's output."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"
