"""`landlord-restate run`: the local stack, kept up until Ctrl-C (today: the Restate server)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated
from urllib.parse import urlsplit

import typer

from ..restate import (
    LocalRestateServer,
    RestateServerInstallError,
    RestateServerStartError,
    ensure_restate_server,
)
from .state import fail, state_of

__all__ = ["run"]

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _local_port(key: str, url: str) -> int:
    parts = urlsplit(url)
    if parts.hostname not in _LOOPBACK:
        raise fail(f"{key}: run starts a local server, so it must be a localhost URL, not {url}")
    return parts.port or (443 if parts.scheme == "https" else 80)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def run(
    ctx: typer.Context,
    data_dir: Annotated[
        Path, typer.Option(help="Where the Restate server keeps its data (kept between runs).")
    ] = Path(".restate"),
    node_port: Annotated[int, typer.Option(help="Port of the server's node/fabric API.")] = 5122,
) -> None:
    """Start a local restate-server (installed on first use) and keep it running until Ctrl-C."""
    restate = state_of(ctx).loaded.settings.workflow.restate
    ingress_port = _local_port("workflow.restate.endpoint", restate.endpoint)
    admin_port = _local_port("workflow.restate.admin_endpoint", restate.admin_endpoint)
    try:
        binary = ensure_restate_server(log=lambda line: typer.echo(line, err=True))
    except RestateServerInstallError as error:
        raise fail(str(error), code=1) from None
    server = LocalRestateServer(
        binary=binary,
        data_dir=data_dir.resolve(),
        ingress_port=ingress_port,
        admin_port=admin_port,
        node_port=node_port,
    )
    stop = _stop_on_signals()
    typer.echo(f"starting restate-server (data in {data_dir}) ...", err=True)
    try:
        server.start()
    except RestateServerStartError as error:
        raise fail(str(error), code=1) from None
    try:
        typer.echo(f"Restate is ready. Admin UI: {server.admin_url}/ui/")
        typer.echo(f"  ingress: {server.ingress_url}   admin API: {server.admin_url}")
        typer.echo(f"  server log: {server.log_path}")
        typer.echo("Press Ctrl-C to stop.")
        while not stop.wait(0.5):
            if not server.running:
                raise fail(f"restate-server exited; see {server.log_path}", code=1)
    finally:
        typer.echo("stopping ...", err=True)
        server.stop()
    typer.echo("stopped.", err=True)
