"""`RestateProvider.health` against a server that answers but runs another release line: the
version check fails, naming both versions; a patch release of the pinned line is fine."""

from __future__ import annotations

import httpx
import pytest

from local_stack.install import RESTATE_SERVER_VERSION
from provider.config import RestateSettings
from provider.restate import RestateProvider


def _server(version: str) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/version":
            return httpx.Response(200, json={"version": version})
        if request.url.path == "/query":
            return httpx.Response(200, json={"rows": []})
        return httpx.Response(200)

    return httpx.MockTransport(answer)


def _patched(version: str) -> str:
    major, minor, _ = version.split(".")
    return f"{major}.{minor}.99"


@pytest.mark.parametrize(
    ("version", "ok"), [("1.6.2", False), (_patched(RESTATE_SERVER_VERSION), True)]
)
async def test_the_server_version_must_be_of_the_pinned_line(version: str, ok: bool) -> None:
    provider = RestateProvider(
        RestateSettings(register_on_startup=False),
        admin_transport=_server(version),
        ingress_transport=_server(version),
    )
    try:
        report = await provider.health()
    finally:
        await provider.aclose()
    check = next(c for c in report.checks if c.name == "server version")
    assert (check.ok, report.healthy) == (ok, ok)
    assert check.detail.startswith(version)
    assert RESTATE_SERVER_VERSION in check.detail
