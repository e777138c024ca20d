"""The controller's HTTP side: a tiny ASGI app under hypercorn answering `GET /health` (the
latest report as JSON; 200 healthy, 503 not or not checked yet), `GET /live` (200 while the
process runs) and `GET /metrics` (Prometheus text); and running it with the controller's loop
until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, cast

from telemetry import get_logger

from .controller import Controller

if TYPE_CHECKING:
    from hypercorn.typing import ASGIFramework

__all__ = ["ListenError", "controller_app", "listen", "serve"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_GRACE_SECONDS = 2.0
_log = get_logger("landlord.controller.http")


class ListenError(OSError):
    """The listener cannot be opened on the address asked for (one line, the address named)."""


def controller_app(controller: Controller) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app answering the three read-only endpoints from `controller`."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    def answer(path: str) -> tuple[int, str, bytes]:
        if path == "/live":
            return 200, "text/plain; charset=utf-8", b"ok\n"
        if path == "/health":
            report = controller.report
            status = 200 if report.healthy else 503
            return status, "application/json", report.model_dump_json().encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        return 404, "text/plain; charset=utf-8", b"not found: /health, /live, /metrics\n"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            status, kind, body = 405, "text/plain; charset=utf-8", b"only GET\n"
        else:
            try:
                status, kind, body = answer(scope["path"])
            except Exception as error:  # noqa: BLE001 - a defect: logged, answered 500
                _log.exception("controller endpoint failed", path=scope["path"], reason=str(error))
                status, kind, body = 500, "text/plain; charset=utf-8", b"internal error\n"
        headers = [(b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    return app


def listen(bind: str) -> socket.socket:
    """A listening socket on HOST:PORT (`[::]` style for IPv6), opened before anything starts
    so that a busy port or an unknown host is one error; `ListenError` names the address."""
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen()
    except OSError as error:
        sock.close()
        reason = error.strerror or type(error).__name__
        raise ListenError(f"cannot listen on {bind}: {reason}") from None
    return sock


async def serve(controller: Controller, sock: socket.socket) -> int:
    """Serve the endpoints on `sock` and run the controller's loop until SIGTERM or SIGINT
    (exit 0). A defect that ends the loop stops the process (exit 1), so that its supervisor
    restarts it rather than a live process that no longer checks anything."""
    import hypercorn.asyncio
    from hypercorn.config import Config

    address = "{}:{}".format(*sock.getsockname()[:2])
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.graceful_timeout = _GRACE_SECONDS
    config.accesslog = None
    config.errorlog = None  # this process logs through structlog; the app logs its own errors
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = asyncio.create_task(
        hypercorn.asyncio.serve(
            cast("ASGIFramework", controller_app(controller)), config, shutdown_trigger=stop.wait
        )
    )
    work = asyncio.create_task(controller.run())
    stopping = asyncio.create_task(stop.wait())
    _log.info("listening", bind=address, endpoints=["/health", "/live", "/metrics"])
    await asyncio.wait({server, work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if work.done() and not work.cancelled() and work.exception() is not None:
        error = work.exception()
        _log.error("controller loop failed", reason=f"{type(error).__name__}: {error}")
        code = 1
    stop.set()
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server, timeout=_GRACE_SECONDS + 1)
    stopping.cancel()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)
    _log.info("stopped", bind=address, exit_code=code)
    return code
