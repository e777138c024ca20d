"""Run one local restate-server process: for the integration tests and ``landlord-restate run``.

`LocalRestateServer` starts the binary on chosen (or free) loopback ports with a private data
directory, waits until it can really serve (not only until its health endpoints answer), and
stops it with SIGTERM then SIGKILL. It is synchronous on purpose: fixtures and the CLI call it
from plain code.

Longer than most: start-up, readiness, ports and shutdown of one process are one story.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from sealing import KEYRING_ENV, KEYRING_FILE_ENV

from .ports import free_ports, port_is_free

__all__ = ["LocalRestateServer", "RestateServerStartError"]

_POLL_INTERVAL_SECONDS = 0.05
_PROBE_TIMEOUT_SECONDS = 5.0
_ERROR_LOG_LINES = 20

# Cheap proof that partitions have a processor: admin SQL fails with "node lookup for partition
# N failed" for a while after a cold start even though both health endpoints already answer 200.
_READINESS_QUERY = "SELECT id FROM sys_invocation LIMIT 1"

# Inherited variables that would silently reconfigure the server; pass them via extra_env.
# The secrets keyring is landlord's alone: Restate only ever holds sealed envelopes.
_DROPPED_ENV_PREFIXES = ("RESTATE_",)
_DROPPED_ENV_NAMES = frozenset({"RUST_LOG", KEYRING_ENV, KEYRING_FILE_ENV})


class RestateServerStartError(RuntimeError):
    """restate-server did not start or did not become ready; the message has its log tail."""


def _client_host(bind_host: str) -> str:
    """Host for URLs that reach a server bound to ``bind_host`` (wildcards become loopback)."""
    if bind_host in ("", "0.0.0.0"):  # noqa: S104 - mapping the wildcard to loopback
        return "127.0.0.1"
    if bind_host == "::":
        return "[::1]"
    if ":" in bind_host:
        return f"[{bind_host}]"
    return bind_host


def _bind_address(host: str, port: int) -> str:
    """``host:port`` with IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class LocalRestateServer:
    """One restate-server process with its own data directory and ports.

    Ports left as None are picked once (free loopback ports) and kept, so `restart` reuses them
    and the URLs are known before `start`. Use as a context manager or call `start`/`stop`.
    """

    def __init__(
        self,
        *,
        binary: Path,
        data_dir: Path,
        ingress_port: int | None = None,
        admin_port: int | None = None,
        node_port: int | None = None,
        partitions: int = 1,
        extra_env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        bind_host: str = "127.0.0.1",
    ) -> None:
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, got {partitions}")
        # Absolute: the process runs with cwd=data_dir, where relative paths would mean else.
        self._binary = Path(binary).absolute()
        self._data_dir = Path(data_dir).absolute()
        self._bind_host = bind_host
        self._url_host = _client_host(bind_host)
        missing = [p is None for p in (ingress_port, admin_port, node_port)].count(True)
        picked = iter(free_ports(missing, host=self._probe_host()) if missing else [])
        self._ingress_port = ingress_port if ingress_port is not None else next(picked)
        self._admin_port = admin_port if admin_port is not None else next(picked)
        self._node_port = node_port if node_port is not None else next(picked)
        self._partitions = partitions
        self._extra_env = dict(extra_env or {})
        self._log_path = (
            Path(log_path).absolute()
            if log_path is not None
            else self._data_dir / "restate-server.log"
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._log_offset = 0

    # -- addresses -------------------------------------------------------------------------

    def _probe_host(self) -> str:
        """Host to pick ports on and bind-test them (the bind host; '' means all IPv4)."""
        return self._bind_host or "0.0.0.0"  # noqa: S104 - same interface the server binds

    @property
    def ingress_port(self) -> int:
        """TCP port of the HTTP ingress (invocations)."""
        return self._ingress_port

    @property
    def admin_port(self) -> int:
        """TCP port of the admin API (deployments, SQL)."""
        return self._admin_port

    @property
    def node_port(self) -> int:
        """TCP port of the node (message fabric, /health, /metrics)."""
        return self._node_port

    @property
    def ingress_url(self) -> str:
        """Base URL of the ingress, e.g. ``http://127.0.0.1:8080``."""
        return f"http://{self._url_host}:{self._ingress_port}"

    @property
    def admin_url(self) -> str:
        """Base URL of the admin API, e.g. ``http://127.0.0.1:9070``."""
        return f"http://{self._url_host}:{self._admin_port}"

    @property
    def node_url(self) -> str:
        """Base URL of the node port, e.g. ``http://127.0.0.1:5122``."""
        return f"http://{self._url_host}:{self._node_port}"

    @property
    def data_dir(self) -> Path:
        """The server's ``--base-dir``."""
        return self._data_dir

    @property
    def log_path(self) -> Path:
        """File receiving the server's stdout and stderr (appended across restarts)."""
        return self._log_path

    @property
    def pid(self) -> int | None:
        """Process id while the process is running, else None."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """Whether the server process has been started and has not exited."""
        return self._process is not None and self._process.poll() is None

    # -- logs ------------------------------------------------------------------------------

    def log_text(self, tail: int | None = None) -> str:
        """The server log (all of it, or its last ``tail`` lines); '' if there is none yet."""
        try:
            text = self._log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        if tail is None:
            return text
        return "\n".join(text.splitlines()[-tail:]) if tail > 0 else ""

    def _this_run_log_tail(self, lines: int = _ERROR_LOG_LINES) -> str:
        """Last lines the current (or last) run wrote, for error messages."""
        try:
            with self._log_path.open("rb") as handle:
                handle.seek(self._log_offset)
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log file)"
        kept = text.splitlines()[-lines:]
        return "\n".join(kept) if kept else "(log is empty)"

    # -- lifecycle -------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        """Process environment: inherited minus RESTATE_*/RUST_LOG and the keyring, plus ours."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_DROPPED_ENV_PREFIXES) and name not in _DROPPED_ENV_NAMES
        }
        host = self._bind_host
        env.update(
            {
                "RESTATE_INGRESS__BIND_ADDRESS": _bind_address(host, self._ingress_port),
                "RESTATE_ADMIN__BIND_ADDRESS": _bind_address(host, self._admin_port),
                "RESTATE_BIND_ADDRESS": _bind_address(host, self._node_port),
                "RESTATE_ADVERTISED_ADDRESS": f"{self.node_url}/",
                "RESTATE_INGRESS__ADVERTISED_INGRESS_ENDPOINT": f"{self.ingress_url}/",
                "RESTATE_ADMIN__ADVERTISED_ADMIN_ENDPOINT": f"{self.admin_url}/",
                # Only applies when the data dir is first provisioned.
                "RESTATE_DEFAULT_NUM_PARTITIONS": str(self._partitions),
                # TCP only: no unix sockets in the data dir (path length limits, stale files).
                "RESTATE_LISTEN_MODE": "tcp",
                # Fixed node name: the data lives in <base-dir>/<node-name>/, which otherwise
                # follows the hostname and is silently replaced by an empty one if it changes.
                "RESTATE_NODE_NAME": "landlord-local",
                # No usage pings to restate.gateway.scarf.sh.
                "RESTATE_DISABLE_TELEMETRY": "true",
                "RESTATE_LOG_DISABLE_ANSI_CODES": "true",
                # The server always asks api.github.com for a newer release (no setting turns
                # it off); without network that logs a misleading ERROR from octocrab.
                "RESTATE_LOG_FILTER": "warn,restate=info,octocrab=off",
            }
        )
        env.update(self._extra_env)
        return env

    def _check_ports_free(self) -> None:
        """Fail fast and clearly when a port is taken (the server's own error is buried)."""
        host = self._probe_host()
        for role, port in (
            ("ingress", self._ingress_port),
            ("admin", self._admin_port),
            ("node", self._node_port),
        ):
            if not port_is_free(port, host=host):
                raise RestateServerStartError(
                    f"cannot start restate-server: {role} port {port} on {host} is already in "
                    "use (another restate-server still running?)"
                )

    def start(self, *, timeout: float = 60) -> None:
        """Spawn the server and return once it can serve; raise `RestateServerStartError` if not.

        Ready means: admin ``/health`` and ingress ``/restate/health`` answer 200 and an admin
        SQL query over ``sys_invocation`` succeeds (partitions have processors).
        """
        if self.running:
            raise RestateServerStartError(f"restate-server is already running (pid {self.pid})")
        self._cleanup_handles()
        if not self._binary.is_file():
            raise RestateServerStartError(f"restate-server binary not found: {self._binary}")
        self._check_ports_free()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_handle = self._log_path.open("ab")
        self._log_offset = self._log_handle.tell()
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our binary, no shell
                [str(self._binary), "--base-dir", str(self._data_dir), "--no-logo"],
                stdin=subprocess.DEVNULL,
                stdout=self._log_handle,
                stderr=subprocess.STDOUT,
                env=self._environment(),
                cwd=self._data_dir,
                start_new_session=True,  # own process group: stop() signals the whole group
            )
        except OSError as exc:
            self._cleanup_handles()
            raise RestateServerStartError(f"cannot run {self._binary}: {exc}") from exc
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout: float) -> None:
        """Poll until ready, the process exits, or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        last_problem = "not probed yet"
        with httpx.Client(timeout=_PROBE_TIMEOUT_SECONDS, trust_env=False) as client:
            while True:
                process = self._process
                assert process is not None
                code = process.poll()
                if code is not None:
                    raise RestateServerStartError(
                        f"restate-server exited with code {code} during start-up; last log "
                        f"lines ({self._log_path}):\n{self._this_run_log_tail()}"
                    )
                problem = self._probe(client)
                if problem is None:
                    return
                last_problem = problem
                if time.monotonic() >= deadline:
                    raise RestateServerStartError(
                        f"restate-server not ready after {timeout:.0f}s ({last_problem}); last "
                        f"log lines ({self._log_path}):\n{self._this_run_log_tail()}"
                    )
                time.sleep(_POLL_INTERVAL_SECONDS)

    def _probe(self, client: httpx.Client) -> str | None:
        """One readiness check: None when ready, else what is not ready yet."""
        try:
            admin = client.get(f"{self.admin_url}/health")
            if admin.status_code != 200:
                return f"admin /health answered {admin.status_code}"
            ingress = client.get(f"{self.ingress_url}/restate/health")
            if ingress.status_code != 200:
                return f"ingress /restate/health answered {ingress.status_code}"
            query = client.post(
                f"{self.admin_url}/query",
                json={"query": _READINESS_QUERY},
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if query.status_code != 200:
            return f"admin SQL answered {query.status_code}: {query.text[:200]}"
        return None

    def _signal_group(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the server's process group (it leads its own session)."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    def _cleanup_handles(self) -> None:
        """Close the log file handle of a previous run."""
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def stop(self, *, timeout: float = 10) -> None:
        """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL. Idempotent."""
        process = self._process
        # poll() is None: not reaped yet, so the pid (and group id) cannot have been reused.
        if process is not None and process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                process.wait()
        self._cleanup_handles()

    def kill(self) -> None:
        """SIGKILL the process group at once (a crash, for recovery tests). Idempotent."""
        process = self._process
        if process is not None and process.poll() is None:
            self._signal_group(signal.SIGKILL)
            process.wait()
        self._cleanup_handles()

    def restart(self, *, timeout: float = 60, stop_timeout: float = 10) -> None:
        """Stop (if running) and start again with the same ports, data and log file."""
        self.stop(timeout=stop_timeout)
        self.start(timeout=timeout)

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return (
            f"LocalRestateServer(ingress={self.ingress_url}, admin={self.admin_url}, "
            f"data_dir={self._data_dir}, {state})"
        )
