"""Serving the deployment: hypercorn with the settings Restate needs.

Restate multiplexes every invocation over one long-lived HTTP/2 connection, so hypercorn's
defaults (close after 1,000 requests or 5 s idle, 100 streams) would fail in-flight
invocations; `PRODUCTION_SETTINGS` lifts those limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import hypercorn.asyncio
from hypercorn.config import Config
from hypercorn.run import run

from telemetry import get_logger

__all__ = [
    "APP_REF",
    "CLOSED_STREAMS_REMEMBERED",
    "PRODUCTION_SETTINGS",
    "advertised_uri",
    "bound_closed_streams",
    "hypercorn_config",
    "serve",
    "serve_until_signalled",
]

APP_REF = "services.app:app"
PRODUCTION_SETTINGS: dict[str, int | float] = {
    "keep_alive_max_requests": 1_000_000_000,
    "keep_alive_timeout": 86_400,
    "h2_max_concurrent_streams": 1_000_000,
    "graceful_timeout": 5,
}
_log = get_logger("landlord.services.serving")
CLOSED_STREAMS_REMEMBERED = 1_024
"""Closed HTTP/2 streams h2 remembers per connection. Its default, 65,536, makes Restate's one
long-lived connection grow for tens of thousands of invocations; a frame on a closed stream it
no longer remembers is answered with a stream reset, as for any stream it never saw."""


def bound_closed_streams() -> None:
    """Apply `CLOSED_STREAMS_REMEMBERED` to every HTTP/2 connection this process serves."""
    import h2.connection

    h2.connection.H2Connection.MAX_CLOSED_STREAMS = CLOSED_STREAMS_REMEMBERED


def hypercorn_config(*, bind: str, workers: int = 1, app: str = APP_REF) -> Config:
    """hypercorn settings for serving `app` to Restate (h2c, long-lived connections)."""
    config = Config.from_mapping(PRODUCTION_SETTINGS)
    config.bind = [bind]
    config.application_path = app
    # One worker serves in this process; more are forked by hypercorn (Restate keeps one
    # connection per deployment, so one worker is the usual choice).
    config.workers = max(workers, 1)
    return config


def advertised_uri(bind: str) -> str:
    """The URI Restate should call for a bind address (a wildcard host becomes loopback)."""
    host, _, port = bind.rpartition(":")
    if host in ("", "0.0.0.0", "[::]"):  # noqa: S104 - mapping wildcards, not binding
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def serve(*, bind: str, workers: int = 1) -> int:
    """Serve the deployment until stopped (registering it is the control plane's act)."""
    _log.info("serving", bind=bind, workers=workers)
    config = hypercorn_config(bind=bind, workers=workers)
    if workers > 1:
        return run(config)
    from services.app import app

    asyncio.run(serve_until_signalled(app, config))
    _log.info("stopped", bind=bind)
    return 0


async def serve_until_signalled(app: Any, config: Config) -> None:
    """Serve `app` in this process until SIGTERM/SIGINT, then stop within the graceful timeout.

    hypercorn's own shutdown waits for every connection to close, and Restate keeps its
    HTTP/2 connection open indefinitely; invocations cut off here are retried by Restate.
    """
    from restate.server import install_shutdown_hook

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # The SDK's app claims SIGTERM for its own shutdown hooks; join them rather than replace.
    install_shutdown_hook(loop, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = asyncio.create_task(hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait))
    waiting = asyncio.create_task(stop.wait())
    await asyncio.wait({server, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if server.done():
        waiting.cancel()
        server.result()
        return
    with contextlib.suppress(TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(server, timeout=config.graceful_timeout + 1)
