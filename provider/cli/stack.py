"""The services process of the local stack `landlord-restate run` brings up (the tenant
workflow handlers under `landlord-restate serve`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["ServicesProcess", "StackError"]

_START_SECONDS = 60.0
_STOP_SECONDS = 10.0


class StackError(RuntimeError):
    """A part of the local stack would not start; the message says which and where its log is."""


class ServicesProcess:
    """`landlord-restate serve` in its own process group, logging to a file."""

    def __init__(self, *, bind: str, url: str, state_dir: Path, log_path: Path) -> None:
        self.bind = bind
        self.url = url
        self.state_dir = state_dir
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        """Whether the process is up."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start serving and wait until `/health` answers."""
        script = Path(sys.executable).with_name("landlord-restate")
        env = {**os.environ, "LANDLORD_SERVICES_STATE_DIR": str(self.state_dir)}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own console script
                [str(script), "serve", "--bind", self.bind],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + _START_SECONDS
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if not self.running:
                    raise StackError(f"the services exited at start; see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/health").is_success:
                        return
                if time.monotonic() > deadline:
                    self.stop()
                    raise StackError(
                        f"the services did not answer on {self.url}; see {self.log_path}"
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=_STOP_SECONDS)
                return
            except subprocess.TimeoutExpired:
                continue
