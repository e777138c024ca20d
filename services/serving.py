"""Serving the deployment: hypercorn with the settings Restate needs, and self-registration.

Restate multiplexes every invocation over one long-lived HTTP/2 connection, so hypercorn's
defaults (close after 1,000 requests or 5 s idle, 100 streams) would fail in-flight
invocations; `PRODUCTION_SETTINGS` lifts those limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
import hypercorn.asyncio
import stamina
from hypercorn.config import Config
from hypercorn.run import run

from provider.logs import get_logger

__all__ = [
    "APP_REF",
    "PRODUCTION_SETTINGS",
    "RegistrationError",
    "advertised_uri",
    "hypercorn_config",
    "register_deployment",
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
_UP_TIMEOUT_SECONDS = 60.0
_log = get_logger("landlord.services.serving")


class RegistrationError(RuntimeError):
    """The Restate admin API would not take the deployment (the message says why)."""


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


class _TransientError(Exception):
    """A registration failure worth retrying (server unreachable or 5xx)."""


def register_deployment(
    admin_url: str,
    uri: str,
    *,
    headers: Mapping[str, str] | None = None,
    attempts: int = 10,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Register (or re-discover, with `force`) the deployment at `uri`; retry with backoff
    while the admin API is unreachable or failing, not when it refuses."""
    url = admin_url.rstrip("/") + "/deployments"
    try:
        for attempt in stamina.retry_context(
            on=_TransientError, attempts=attempts, timeout=timeout, wait_initial=0.2, wait_max=5.0
        ):
            with attempt:
                try:
                    response = httpx.post(
                        url,
                        json={"uri": uri, "force": True},
                        headers=dict(headers or {}),
                        timeout=30,
                    )
                except httpx.HTTPError as error:
                    raise _TransientError(f"{admin_url}: {type(error).__name__}") from error
                if response.status_code >= 500:
                    raise _TransientError(
                        f"{admin_url} answered {response.status_code}: {response.text[:300]}"
                    )
    except _TransientError as error:
        raise RegistrationError(f"gave up registering {uri}: {error}") from None
    if not response.is_success:
        raise RegistrationError(
            f"{admin_url} refused {uri}: {response.status_code} {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


def _register_when_up(admin_url: str, uri: str, headers: Mapping[str, str]) -> None:
    deadline = time.monotonic() + _UP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{uri}/health", timeout=2).is_success:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        body = register_deployment(admin_url, uri, headers=headers)
    except RegistrationError as error:
        _log.error("registration failed", admin_url=admin_url, uri=uri, reason=str(error))
        return
    services = [service["name"] for service in body.get("services", [])]
    _log.info("registered", admin_url=admin_url, uri=uri, id=body.get("id"), services=services)


def serve(
    *,
    bind: str,
    workers: int = 1,
    register: str | None = None,
    advertise: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Serve the deployment until stopped; with `register`, register it once it answers."""
    if register:
        uri = advertise or advertised_uri(bind)
        threading.Thread(
            target=_register_when_up, args=(register, uri, dict(headers or {})), daemon=True
        ).start()
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
