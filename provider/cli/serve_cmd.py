"""`landlord-restate serve`: run the Restate deployment (the tenant workflows) under hypercorn
in this process; with `--register`, register it the way `landlord-restate register` does."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

import typer

from services.contract import parse_duration
from telemetry import get_logger

from .._exceptions import WorkflowError
from ..config import RestateSettings
from ..restate import RestateProvider, register_tenant_workflow
from .state import fail, state_of

__all__ = ["serve"]

_log = get_logger("landlord.cli.serve")


def _register_when_up(settings: RestateSettings, wait: timedelta) -> None:
    """Register through the one registration path, retrying while the server comes up."""

    async def register() -> None:
        provider = RestateProvider(settings)
        try:
            result = await register_tenant_workflow(provider, wait=wait)
        finally:
            await provider.aclose()
        _log.info(
            "registered",
            admin_url=settings.admin_endpoint,
            uri=settings.deployment_uri,
            resource_ids=result.resource_ids,
        )

    try:
        asyncio.run(register())
    except WorkflowError as error:
        _log.error(
            "registration failed",
            admin_url=settings.admin_endpoint,
            uri=settings.deployment_uri,
            reason=str(error),
        )


def serve(
    ctx: typer.Context,
    bind: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT to listen on (default: from workflow.restate.deployment_uri)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="hypercorn worker processes.")] = 1,
    register: Annotated[
        str | None,
        typer.Option(metavar="ADMIN_URL", help="Register with this Restate admin API once up."),
    ] = None,
    advertise: Annotated[
        str | None, typer.Option(help="URI Restate should call (default: from --bind).")
    ] = None,
    register_wait: Annotated[
        str, typer.Option(help="How long --register keeps retrying while Restate is not up.")
    ] = "60s",
) -> None:
    """Serve the tenant workflows to Restate (HTTP/2 cleartext, production limits)."""
    from services.logs import drop_during_replay
    from services.serving import advertised_uri
    from services.serving import serve as run_server
    from services.settings import ServicesConfigError

    try:
        import services.app  # noqa: F401 - builds the app now, so bad settings fail here
    except ServicesConfigError as error:
        raise fail(str(error)) from None

    state = state_of(ctx)
    state.verbose = True  # a server's log lines are its output
    state.log_processors = [drop_during_replay]  # as the services' own logging does
    restate = state.loaded.settings.workflow.restate
    if bind is None:
        parts = urlsplit(restate.deployment_uri)
        if not parts.port:
            raise fail("--bind is required: workflow.restate.deployment_uri names no port")
        bind = f"{parts.hostname}:{parts.port}"
    if ":" not in bind:
        raise fail(f"--bind: expected HOST:PORT, got {bind!r}")
    try:
        patience = parse_duration(register_wait)
    except ValueError as error:
        raise fail(f"--register-wait: {error}") from None
    if register:
        target = restate.model_copy(
            update={
                "admin_endpoint": register,
                "deployment_uri": advertise or advertised_uri(bind),
                **(
                    {"execution_mechanism": "local"}
                    if restate.execution_mechanism == "lambda"
                    else {}
                ),
                "register_deployment": True,
            }
        )
        threading.Thread(target=_register_when_up, args=(target, patience), daemon=True).start()
    raise typer.Exit(run_server(bind=bind, workers=workers))
