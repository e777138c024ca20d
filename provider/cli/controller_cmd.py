"""`landlord-restate controller`: the long-running control plane — registers the tenant
workflow at start-up (retrying while Restate or the services are down), keeps its health, and
serves /health, /live and /metrics. What the deploy recipes run instead of a one-shot job."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from pydantic import ValidationError

from ..config import ConfigError, ControllerSettings
from ..controller import Controller
from ..controller_http import ListenError, listen, serve
from ..factory import build_manager
from ..metrics_export import export_metrics
from ..validation import problems_from
from .state import fail, state_of

__all__ = ["controller"]


def controller(
    ctx: typer.Context,
    bind: Annotated[
        str | None,
        typer.Option(help="HOST:PORT for /health, /live and /metrics (default: controller.bind)."),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(help="How often to re-check health, e.g. 30s (default: controller.interval)."),
    ] = None,
) -> None:
    """Run the control plane: register the tenant workflow, keep its health, serve it."""
    state = state_of(ctx)
    state.verbose = True  # a long-running process's log lines are its output
    settings = state.loaded.settings
    given = {name: value for name, value in (("bind", bind), ("interval", interval)) if value}
    try:
        options = ControllerSettings.model_validate(
            settings.controller.model_dump() | given, strict=False
        )
    except ValidationError as error:
        raise fail("; ".join(f"--{p.field}: {p.rule}" for p in problems_from(error))) from None
    manager = build_manager(settings)
    try:
        sock = listen(options.bind)
    except ListenError as error:
        asyncio.run(manager.aclose())
        raise fail(f"{'--bind' if bind else 'controller.bind'}: {error}") from None
    try:
        # The control plane's metrics: on this process's own /metrics, unless told otherwise.
        export_metrics(default="prometheus", own_server=False)
    except ConfigError as error:
        sock.close()
        asyncio.run(manager.aclose())
        raise fail(str(error)) from None

    async def run() -> int:
        try:
            return await serve(Controller(manager, interval=options.interval), sock)
        finally:
            await manager.aclose()

    raise typer.Exit(asyncio.run(run()))
