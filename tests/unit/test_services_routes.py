"""The services' own routes beside Restate's: `/health` asks the configured backends (503 and
one line per backend that cannot be reached), `/live` always answers, `/metrics` is Prometheus
text, and every other request still reaches Restate's app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services import health
from services.compute import ComputeConfigError
from services.routes import with_routes
from services.settings import ServicesConfigError, load_services_settings, services_settings


class Backend:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    async def reachable(self) -> str:
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer == "hang":
            await asyncio.sleep(60)
        return str(self.answer)


BACKENDS = {
    "mock": Backend("in memory"),
    "local": Backend(PermissionError("cannot write tenant records in /srv/tenants")),
    "docker": Backend("hang"),
    "ecs": Backend(None),
}


def _backend_for(name: str) -> Backend:
    if BACKENDS[name].answer is None:
        raise ComputeConfigError("", "compute_provider 'ecs' needs the 'ecs' extra")
    return BACKENDS[name]


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(health, "backend_for", _backend_for)
    monkeypatch.setattr(health, "CHECK_TIMEOUT", 0.2)
    services_settings.cache_clear()
    yield
    services_settings.cache_clear()


async def _restate(scope: Any, receive: Any, send: Any) -> None:
    """Stands in for Restate's app: answers 299 with the path it got."""
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


async def _get(path: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=with_routes(_restate))
    async with httpx.AsyncClient(transport=transport, base_url="http://services") as client:
        return await client.request(method, path)


@pytest.mark.usefixtures("checked")
async def test_health_is_503_with_one_line_per_backend_that_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANDLORD_SERVICES_HEALTH_BACKENDS", "mock, local,docker,ecs")
    response = await _get("/health")
    assert response.status_code == 503
    report = response.json()
    assert report["healthy"] is False
    assert {c["backend"]: (c["healthy"], c["detail"]) for c in report["backends"]} == {
        "mock": (True, "in memory"),
        "local": (False, "PermissionError: cannot write tenant records in /srv/tenants"),
        "docker": (False, "no answer within 0.2s"),
        "ecs": (False, "compute_provider 'ecs' needs the 'ecs' extra"),
    }


@pytest.mark.usefixtures("checked")
async def test_health_is_200_when_every_checked_backend_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANDLORD_SERVICES_HEALTH_BACKENDS", "mock")
    response = await _get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "healthy": True,
        "backends": [{"backend": "mock", "healthy": True, "detail": "in memory"}],
    }


@pytest.mark.usefixtures("checked")
async def test_health_without_backends_to_check_is_healthy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LANDLORD_SERVICES_HEALTH_BACKENDS", raising=False)
    response = await _get("/health")
    assert (response.status_code, response.json()) == (200, {"healthy": True, "backends": []})


async def test_live_and_metrics_answer_and_everything_else_reaches_restate() -> None:
    live = await _get("/live")
    assert (live.status_code, live.json()) == (200, {"live": True})
    metrics = await _get("/metrics")
    assert metrics.status_code == 200
    assert "# TYPE landlord_tenant_operations_started_total counter" in metrics.text
    assert "_created" not in metrics.text
    for path, method in [("/discover", "GET"), ("/invoke/S/h", "POST"), ("/metrics", "POST")]:
        passed = await _get(path, method)
        assert (passed.status_code, passed.text) == (299, path)


def test_an_unknown_backend_to_check_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANDLORD_SERVICES_HEALTH_BACKENDS", "local,k8s")
    with pytest.raises(ServicesConfigError) as refused:
        load_services_settings()
    assert str(refused.value) == (
        "LANDLORD_SERVICES_HEALTH_BACKENDS: unknown backend 'k8s' (known: docker, ecs, local, mock)"
    )


async def test_the_local_backend_is_unreachable_where_it_cannot_write(tmp_path: Any) -> None:
    from services.compute import LocalBackend

    records = tmp_path / "records"
    records.mkdir()
    assert "tenant records in" in await LocalBackend(state_dir=records).reachable()
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(NotADirectoryError):
        await LocalBackend(state_dir=blocked / "records").reachable()
