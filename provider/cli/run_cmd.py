"""`landlord-restate run` (what `make run` runs): the whole local stack and a demo tenant.

It starts a restate-server (data under `--data-dir`), serves the tenant workflow handlers,
registers them through `RestateProvider`, provisions the demo tenant with the `local`
backend while showing its progress, prints the tenant's endpoint, the Restate UI and where
each part's metrics are, and runs until Ctrl-C. Then it deletes the demo tenant through the
workflow and stops everything. The control plane's own metrics are served by OpenTelemetry's
Prometheus exporter unless `OTEL_METRICS_EXPORTER` says otherwise. Running it again resumes
with the same Restate data. Unless the environment names a secrets keyring, it makes one
under `--data-dir` (once) for the services and itself to share.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from local_stack import (
    HttpProcess,
    HttpProcessError,
    LocalRestateServer,
    RestateServerInstallError,
    RestateServerStartError,
    ensure_restate_server,
)
from local_stack.keyring import ensure_local_keyring
from sealing import KEYRING_FILE_ENV, Keyring, KeyringError

from .._exceptions import WorkflowError
from ..config import ConfigError, RestateSettings
from ..manager import Manager
from ..metrics_export import export_metrics
from ..models import ExecutionInput, ExecutionState
from ..registry import Registry
from ..restate import BUILTIN_WORKFLOW_ID, RestateProvider, register_tenant_workflow
from .state import fail, state_of
from .watch import watch

__all__ = ["run"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
DEMO_TENANT = "demo"


def _local(key: str, url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK:
        raise fail(f"{key}: run starts a local server, so it must be a localhost URL, not {url}")
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)


def _demo_request(operation: str) -> dict[str, Any]:
    """The demo tenant's request; its env holds a secret, which Restate only sees sealed."""
    return {
        "tenant_id": DEMO_TENANT,
        "operation": operation,
        "compute_provider": "local",
        "desired_config": {
            "env": {"DEMO_API_TOKEN": secrets.token_urlsafe(16)},
            "settings": {"greeting": "hello from landlord-restate"},
        },
    }


async def _run_demo(manager: Manager, operation: str, stamp: str) -> dict[str, Any] | None:
    """Run one operation on the demo tenant, showing progress; its output, or None."""
    started = await manager.start_execution(
        BUILTIN_WORKFLOW_ID,
        ExecutionInput(
            execution_name=f"{DEMO_TENANT}-{operation}-{stamp}",
            input=_demo_request(operation),
            trigger_source="landlord-restate run",
        ),
        provider_type="restate",
    )
    typer.echo(f"{operation} of tenant {DEMO_TENANT!r}: execution {started.execution_id}")
    status = await watch(manager, started.execution_id, provider_type="restate")
    if status.state is not ExecutionState.SUCCEEDED:
        error = status.error.message if status.error else status.state.value
        typer.echo(f"{operation} of tenant {DEMO_TENANT!r} ended {status.state.value}: {error}")
        return None
    return status.output if isinstance(status.output, dict) else None


def _secrets_keyring(data_dir: Path) -> Path | None:
    """The keyring the services and this process's control plane share: the one the
    environment names, else the local stack's own file (returned), made on first use. A
    keyring that cannot be made or read stops `run` before anything starts."""
    try:
        path = ensure_local_keyring(data_dir, environ=os.environ)
    except OSError as error:
        raise fail(
            f"cannot create the secrets keyring in {data_dir}: {error.strerror or error}", code=1
        ) from None
    if path is not None:
        os.environ[KEYRING_FILE_ENV] = str(path)
    try:
        Keyring.from_environment()
    except KeyringError as error:
        raise fail(str(error)) from None
    return path


async def _serve_until_stopped(
    settings: RestateSettings,
    server: LocalRestateServer,
    services: HttpProcess,
    *,
    keyring_file: Path | None,
    metrics_url: str | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    provider = RestateProvider(settings)
    registry = Registry()
    registry.register(provider)
    manager = Manager(registry, default_provider="restate")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    try:
        created = await register_tenant_workflow(provider)
        typer.echo(f"registered {created.resource_ids['service']} ({created.message})")
        demo = asyncio.create_task(_run_demo(manager, "provision", stamp))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({demo, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if demo.done():
            output = demo.result()
            endpoint = (output or {}).get("endpoints", {}).get("http")
            typer.echo(f"Restate is ready. Admin UI: {server.admin_url}/ui/")
            typer.echo(f"  ingress: {server.ingress_url}   admin API: {server.admin_url}")
            if endpoint:
                typer.echo(f"  tenant {DEMO_TENANT!r} is up at {endpoint}")
            typer.echo(f"  logs: {server.log_path}, {services.log_path}")
            typer.echo(
                f"  metrics: {services.url}/metrics (services), "
                f"{server.node_url}/metrics (Restate)"
                + (f", {metrics_url} (control plane)" if metrics_url else "")
            )
            if keyring_file is not None:
                typer.echo(f"  secrets keyring: {keyring_file}")
            typer.echo("Press Ctrl-C to stop.")
        while not stop.is_set():
            if not server.running or not services.running:
                raise HttpProcessError("restate-server or the services exited; see their logs")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
        if not demo.done():
            demo.cancel()
        typer.echo("stopping: deleting the demo tenant ...", err=True)
        await _run_demo(manager, "delete", stamp)
    finally:
        await manager.aclose()


def run(
    ctx: typer.Context,
    data_dir: Annotated[
        Path, typer.Option(help="Where Restate and the tenants keep their data (kept).")
    ] = Path(".restate"),
    node_port: Annotated[int, typer.Option(help="Port of the server's node/fabric API.")] = 5122,
) -> None:
    """Run the local stack with a demo tenant until Ctrl-C."""
    settings = state_of(ctx).loaded.settings.workflow.restate
    _, ingress_port = _local("workflow.restate.endpoint", settings.endpoint)
    _, admin_port = _local("workflow.restate.admin_endpoint", settings.admin_endpoint)
    host, services_port = _local("workflow.restate.deployment_uri", settings.deployment_uri)
    try:
        binary = ensure_restate_server(log=lambda line: typer.echo(line, err=True))
    except RestateServerInstallError as error:
        raise fail(str(error), code=1) from None
    data_dir = data_dir.resolve()
    keyring_file = _secrets_keyring(data_dir)
    try:
        metrics_url = export_metrics(default="prometheus")
    except ConfigError as error:
        raise fail(str(error)) from None
    server = LocalRestateServer(
        binary=binary,
        data_dir=data_dir,
        ingress_port=ingress_port,
        admin_port=admin_port,
        node_port=node_port,
    )
    services = HttpProcess(
        name="the services",
        command=[
            str(Path(sys.executable).with_name("landlord-restate")),
            "serve",
            "--bind",
            f"{host}:{services_port}",
        ],
        url=settings.deployment_uri,
        log_path=data_dir / "services.log",
        # os.environ names the keyring now: the user's, or the file made above.
        env={
            **os.environ,
            "LANDLORD_SERVICES_STATE_DIR": str(data_dir / "tenants"),
            # the demo tenant runs on `local`: the services' /health checks that it can
            "LANDLORD_SERVICES_HEALTH_BACKENDS": "local",
        },
    )
    typer.echo(f"starting restate-server (data in {data_dir}) ...", err=True)
    try:
        server.start()
        data_dir.mkdir(parents=True, exist_ok=True)
        services.start()
        asyncio.run(
            _serve_until_stopped(
                settings, server, services, keyring_file=keyring_file, metrics_url=metrics_url
            )
        )
    except (RestateServerStartError, HttpProcessError, WorkflowError) as error:
        raise fail(str(error), code=1) from None
    finally:
        typer.echo("stopping ...", err=True)
        services.stop()
        server.stop()
    typer.echo("stopped.", err=True)
