"""The services' own HTTP routes, beside the Restate endpoints on the same listener.

- `GET /metrics`: Prometheus metrics (`services.metrics`, and the process's own).
- `GET /health`: whether the backends the services are set to check can be reached (200, or
  503 when one cannot); the readiness probe.
- `GET /live`: 200 while the process serves; the liveness probe.

Restate never calls these; like the SDK's own health answer they are not signature-checked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import disable_created_metrics, make_asgi_app

from .health import check_backends
from .metrics import SCRAPED

__all__ = ["HEALTH_PATH", "LIVE_PATH", "METRICS_PATH", "with_routes"]

HEALTH_PATH = "/health"
LIVE_PATH = "/live"
METRICS_PATH = "/metrics"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _health(_scope: Scope, _receive: Receive, send: Send) -> None:
    report = await check_backends()
    await _json(send, 200 if report.healthy else 503, report.model_dump_json().encode())


async def _live(_scope: Scope, _receive: Receive, send: Send) -> None:
    await _json(send, 200, b'{"live":true}')


def with_routes(restate_app: Asgi) -> Asgi:
    """`restate_app` with the routes above in front of it (everything else goes to Restate)."""
    disable_created_metrics()  # type: ignore[no-untyped-call]
    metrics: Asgi = make_asgi_app(registry=SCRAPED)
    routes: dict[str, Asgi] = {HEALTH_PATH: _health, LIVE_PATH: _live, METRICS_PATH: metrics}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        route = routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is not None and scope.get("method") in ("GET", "HEAD"):
            await route(scope, receive, send)
        else:
            await restate_app(scope, receive, send)

    return app
