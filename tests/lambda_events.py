"""Restate's Lambda invocation events and response decoding, shared by the in-process Lambda
handler tests and the packaged-zip test (which hands the event to a separate interpreter)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DISCOVERY_ACCEPT",
    "MANIFEST_V4",
    "decoded_body",
    "discovery_event",
    "restate_event",
]

# What restate-server 1.7.12 sends on discovery (captured from a real server): every manifest
# version it understands, lowest first. The SDK answers with the highest it knows (v4 here).
DISCOVERY_ACCEPT = ", ".join(
    f"application/vnd.restate.endpointmanifest.v{version}+json" for version in (1, 2, 3, 4)
)
MANIFEST_V4 = "application/vnd.restate.endpointmanifest.v4+json"


def restate_event(
    method: str, path: str, *, headers: Mapping[str, str] | None = None, body: bytes = b""
) -> dict[str, Any]:
    """The payload Restate's Lambda invoker sends (`ApiGatewayProxyRequest` in restate-server):
    path, method, headers, the body base64-encoded, `isBase64Encoded` always true."""
    return {
        "path": path,
        "httpMethod": method,
        "headers": dict(headers or {}),
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


def discovery_event() -> dict[str, Any]:
    """A discovery request as Restate sends it to a Lambda deployment."""
    return restate_event(
        "GET",
        "/discover",
        headers={"accept": DISCOVERY_ACCEPT, "x-restate-cluster-name": "localcluster"},
    )


def decoded_body(response: Mapping[str, Any]) -> bytes:
    """The response body, which the handler always returns base64-encoded."""
    assert response["isBase64Encoded"] is True
    return base64.b64decode(response["body"])
