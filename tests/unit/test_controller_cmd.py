"""`landlord-restate controller` refuses what it cannot use before anything starts (one line,
exit 2); its endpoints answer from the latest report; its metrics come from OpenTelemetry."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator, MutableMapping
from datetime import timedelta
from typing import Any

import pytest

from local_stack import free_port
from provider.cli import main
from provider.config import Settings
from provider.controller import Controller
from provider.controller_http import controller_app
from provider.factory import build_manager
from provider.models import HealthCheck, ProviderHealth


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err  # nothing started, so nothing else was logged
    return lines[0]


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("--bind", "9091", "--bind: must be HOST:PORT"),
        ("--bind", "0.0.0.0:", "--bind: must be HOST:PORT"),
        ("--bind", "0.0.0.0:0", "--bind: must be HOST:PORT"),
        ("--bind", "0.0.0.0:70000", "--bind: must be HOST:PORT"),
        ("--bind", ":9091", "--bind: must be HOST:PORT"),
        ("--interval", "soon", "--interval: must be a duration such as 30s"),
        ("--interval", "0s", "--interval: must be"),
        ("--interval", "500ms", "--interval: must be at least 1s"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(
    option: str, value: str, rule: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused(["controller", option, value], capsys)
    assert line.startswith(f"error: {rule}"), line


def test_a_bad_setting_names_its_key_and_source(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LANDLORD_CONTROLLER_INTERVAL", "0.1s")
    line = _refused(["controller"], capsys)
    assert "controller.interval: must be at least 1s" in line
    assert "(from env LANDLORD_CONTROLLER_INTERVAL)" in line


def test_a_bad_metrics_exporter_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "statsd")
    line = _refused(["controller", "--bind", f"127.0.0.1:{free_port()}"], capsys)
    assert line == (
        "error: invalid configuration: OTEL_METRICS_EXPORTER: 'statsd' is not one of "
        "prometheus, console, none"
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield taken.getsockname()[1]


def test_a_port_in_use_is_one_line_naming_the_address(
    busy_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused(["controller", "--bind", f"127.0.0.1:{busy_port}"], capsys)
    assert line == f"error: --bind: cannot listen on 127.0.0.1:{busy_port}: Address already in use"


def test_a_busy_port_from_the_settings_names_the_setting(
    busy_port: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LANDLORD_CONTROLLER_BIND", f"127.0.0.1:{busy_port}")
    line = _refused(["controller"], capsys)
    assert line.startswith("error: controller.bind: cannot listen on ")


def test_an_unknown_host_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["controller", "--bind", "no-such-host.invalid:9091"], capsys)
    assert line.startswith("error: --bind: cannot listen on no-such-host.invalid:9091: ")


# -- the endpoints ---------------------------------------------------------------------------


async def _get(controller: Controller, path: str, method: str = "GET") -> tuple[int, bytes]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path}
    await controller_app(controller)(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def controller() -> Controller:
    return Controller(build_manager(Settings()), interval=timedelta(seconds=30))


async def test_health_is_503_until_checked_then_follows_the_report(
    controller: Controller,
) -> None:
    status, body = await _get(controller, "/health")
    assert status == 503
    assert json.loads(body) == {
        "provider_type": "restate",
        "checks": [{"name": "controller", "ok": False, "detail": "not checked yet"}],
        "workflows": {},
        "healthy": False,
    }

    controller.report = ProviderHealth(
        provider_type="restate",
        checks=[HealthCheck(name="admin API", ok=True)],
        workflows={"tenant-provisioning": True},
    )
    status, body = await _get(controller, "/health")
    assert status == 200
    assert json.loads(body) == json.loads(controller.report.model_dump_json())
    assert json.loads(body)["healthy"] is True

    controller.report = controller.report.model_copy(
        update={"workflows": {"tenant-provisioning": False}}
    )
    assert (await _get(controller, "/health"))[0] == 503


async def test_live_answers_whatever_the_health(controller: Controller) -> None:
    assert await _get(controller, "/live") == (200, b"ok\n")
    assert await _get(controller, "/live", "HEAD") == (200, b"")
    assert (await _get(controller, "/other"))[0] == 404
    assert (await _get(controller, "/health", "POST"))[0] == 405


async def test_lifespan_is_acknowledged(controller: Controller) -> None:
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> MutableMapping[str, Any]:
        await asyncio.sleep(0)
        return next(incoming)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await controller_app(controller)({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


_METRICS = """
from opentelemetry import metrics
from prometheus_client import REGISTRY, generate_latest
from provider.metrics_export import export_metrics
{before}
export_metrics(default="prometheus", own_server=False)
metrics.get_meter("t").create_counter("landlord.t.things").add(2)
print(generate_latest(REGISTRY).decode())
"""


def _metrics_text(before: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-c", _METRICS.format(before=before)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_opentelemetry_metrics_reach_the_prometheus_text() -> None:
    assert 'landlord_t_things_total{otel_scope_name="t",' in _metrics_text()


def test_a_meter_provider_the_process_set_up_is_kept() -> None:
    own = (
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "metrics.set_meter_provider(MeterProvider())"
    )
    assert "landlord_t_things" not in _metrics_text(own)
