"""`local`: each tenant is a real OS process on this host (the embedded default backend).

Processes are started in their own session, so they outlive a crash of the services process,
and carry an environment marker naming their tenant: the marker, not memory, is how a re-run
step finds what an earlier attempt started. A small JSON record per tenant keeps its config
and port on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import psutil
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from .protocol import ComputeConfigError, ComputeState, TenantRef
from .tenant_app import SETTINGS_ENV, TENANT_ENV

__all__ = ["LocalBackend"]

MARKER_ENV = "LANDLORD_LOCAL_TENANT"
_STOP_GRACE_SECONDS = 5.0
_HEALTH_TIMEOUT_SECONDS = 1.0
_POLL_SECONDS = 0.02


class LocalConfig(BaseModel):
    """Desired config for a local tenant process."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] | None = Field(default=None, min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    port: int | None = Field(default=None, ge=1024, le=65535)
    health_path: str = Field(default="/health", pattern=r"^/")
    settings: dict[str, JsonValue] = Field(default_factory=dict)


def config_error(error: ValidationError) -> ComputeConfigError:
    """The first problem of a pydantic error as a one-line `ComputeConfigError` (no values)."""
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"])
    rule = "is not a known key" if first["type"] == "extra_forbidden" else first["msg"].lower()
    return ComputeConfigError(key, rule)


def _unused_port(host: str) -> int:
    """A port the OS reports free on `host` now (the tenant process binds it right after)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _gone(process: psutil.Process) -> bool:
    """Exited: reaped, or a zombie (reaped here when it is this process's child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(process.pid, os.WNOHANG)
    try:
        return process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return True


def _wait_gone(processes: list[psutil.Process], *, timeout: float) -> list[psutil.Process]:
    """Wait until the processes have exited; return those still running at the deadline."""
    deadline = time.monotonic() + timeout
    alive = [p for p in processes if not _gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        alive = [p for p in alive if not _gone(p)]
    return alive


class LocalBackend:
    """Tenants as local processes, tracked under `state_dir`."""

    name = "local"

    def __init__(self, *, state_dir: Path, host: str = "127.0.0.1") -> None:
        self.state_dir = Path(state_dir).absolute()
        self.host = host
        self._marker_scope = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]

    def validate_config(self, config: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """Check the config's keys and types; defaults filled in."""
        try:
            return LocalConfig.model_validate(dict(config)).model_dump(mode="json")
        except ValidationError as error:
            raise config_error(error) from None

    def _marker(self, tenant: TenantRef) -> str:
        return f"{self._marker_scope}/{tenant.tenant_id}"

    def _record_path(self, tenant: TenantRef) -> Path:
        return self.state_dir / f"{tenant.tenant_id}.json"

    def _read_record(self, tenant: TenantRef) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._record_path(tenant).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data

    def _write_record(self, tenant: TenantRef, record: dict[str, Any]) -> None:
        """Write the record, readable by this user only: its config holds the opened secrets
        the tenant process runs with."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self._record_path(tenant)
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(json.dumps(record))
        temporary.replace(path)

    def processes(self, tenant: TenantRef) -> list[psutil.Process]:
        """The tenant's live process groups, by the marker their leader carries (so they are
        found even when the record on disk was never written)."""
        marker = self._marker(tenant)
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if (
                    os.getpgid(process.pid) == process.pid
                    and process.environ().get(MARKER_ENV) == marker
                    and process.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
                ):
                    found.append(process)
        return found

    def _stop(self, leaders: list[psutil.Process]) -> None:
        """SIGTERM each process group, SIGKILL what is left after a grace period."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for leader in leaders:
                with contextlib.suppress(OSError):
                    os.killpg(leader.pid, sig)
            leaders = _wait_gone(leaders, timeout=_STOP_GRACE_SECONDS)
            if not leaders:
                return

    def _spawn(self, tenant: TenantRef, config: LocalConfig, port: int) -> None:
        self._write_record(tenant, {"port": port, "config": config.model_dump(mode="json")})
        command = config.command or [
            sys.executable,
            "-m",
            "services.compute.tenant_app",
            "--port",
            str(port),
            "--host",
            self.host,
        ]
        env = {
            **os.environ,
            **config.env,
            "PORT": str(port),
            TENANT_ENV: tenant.tenant_id,
            SETTINGS_ENV: json.dumps(config.settings),
            MARKER_ENV: self._marker(tenant),
        }
        log_path = self.state_dir / f"{tenant.tenant_id}.log"
        with log_path.open("ab") as log:
            subprocess.Popen(  # noqa: S603 - the tenant's configured command, no shell
                command,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.state_dir,
            )

    def _ensure(self, tenant: TenantRef, config: LocalConfig, *, replace: bool) -> ComputeState:
        record = self._read_record(tenant) or {}
        processes = self.processes(tenant)
        same = record.get("config") == config.model_dump(mode="json")
        if processes and (same or not replace):
            self._stop(processes[1:])
            return self._observe(tenant, processes[:1])
        self._stop(processes)
        port = config.port or record.get("port") or _unused_port(self.host)
        self._spawn(tenant, config, int(port))
        return self._observe(tenant, self.processes(tenant))

    def _observe(self, tenant: TenantRef, processes: list[psutil.Process]) -> ComputeState:
        record = self._read_record(tenant)
        if not processes or record is None:
            return ComputeState(exists=False, detail="no process is running for this tenant")
        config = LocalConfig.model_validate(record["config"])
        url = f"http://{self.host}:{record['port']}"
        try:
            response = httpx.get(url + config.health_path, timeout=_HEALTH_TIMEOUT_SECONDS)
            healthy, detail = response.is_success, f"health check answered {response.status_code}"
        except httpx.HTTPError as error:
            healthy, detail = False, f"health check failed: {type(error).__name__}"
        return ComputeState(
            exists=True,
            healthy=healthy,
            config=record["config"],
            resource_ids={"pid": str(processes[0].pid)},
            endpoints={"http": url},
            detail=detail,
        )

    async def provision(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Start the tenant's process, or adopt the one an earlier attempt started."""
        parsed = LocalConfig.model_validate(config)
        return await asyncio.to_thread(self._ensure, tenant, parsed, replace=False)

    async def update(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Restart the process with the new config (same port); same config → no change."""
        parsed = LocalConfig.model_validate(config)
        return await asyncio.to_thread(self._ensure, tenant, parsed, replace=True)

    async def destroy(self, tenant: TenantRef) -> None:
        """Stop every process of the tenant and forget its record."""

        def destroy() -> None:
            self._stop(self.processes(tenant))
            self._record_path(tenant).unlink(missing_ok=True)

        await asyncio.to_thread(destroy)

    async def reachable(self) -> str:
        """The records' directory exists (or can be made) and is writable."""
        await asyncio.to_thread(self.state_dir.mkdir, parents=True, exist_ok=True)
        if not os.access(self.state_dir, os.W_OK | os.X_OK):
            raise PermissionError(f"cannot write tenant records in {self.state_dir}")
        return f"tenant records in {self.state_dir}"

    async def status(self, tenant: TenantRef) -> ComputeState:
        """Whether the tenant's process runs and answers its health check."""
        return await asyncio.to_thread(lambda: self._observe(tenant, self.processes(tenant)))
