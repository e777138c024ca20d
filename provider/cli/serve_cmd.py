"""`landlord-restate serve`: run the Restate deployment (the tenant workflows) under hypercorn."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import typer

from .state import fail, state_of

__all__ = ["serve"]


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
) -> None:
    """Serve the tenant workflows to Restate (HTTP/2 cleartext, production limits)."""
    from services.serving import serve as run_server
    from services.settings import ServicesConfigError

    try:
        import services.app  # noqa: F401 - builds the app now, so bad settings fail here
    except ServicesConfigError as error:
        raise fail(str(error)) from None

    restate = state_of(ctx).loaded.settings.workflow.restate
    if bind is None:
        parts = urlsplit(restate.deployment_uri)
        if not parts.port:
            raise fail("--bind is required: workflow.restate.deployment_uri names no port")
        bind = f"{parts.hostname}:{parts.port}"
    if ":" not in bind:
        raise fail(f"--bind: expected HOST:PORT, got {bind!r}")
    headers = {}
    if restate.auth_type == "api_key":
        headers["Authorization"] = f"Bearer {restate.api_key.get_secret_value()}"
    raise typer.Exit(
        run_server(
            bind=bind, workers=workers, register=register, advertise=advertise, headers=headers
        )
    )
