"""The Manager's OpenTelemetry metrics: one count and one latency per operation, by provider,
operation and outcome (read back through the SDK's in-memory reader); and the exporter a
long-running command sets up from `OTEL_METRICS_EXPORTER`, refused in one line when wrong."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from local_stack import free_port
from provider import ExecutionNotFoundError, Manager, Registry
from provider.mock import MockProvider

SPEC = {"workflow_id": "tenant-provisioning", "definition": {"steps": ["provision"]}}


@pytest.fixture(scope="module")
def reader() -> InMemoryMetricReader:
    """The process's meter provider, read in memory (set once: OpenTelemetry allows no other)."""
    memory = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[memory]))
    return memory


def _points(reader: InMemoryMetricReader, name: str) -> dict[tuple[str, str, str], Any]:
    data = reader.get_metrics_data()
    found: dict[tuple[str, str, str], Any] = {}
    if data is None:  # nothing recorded yet
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        attributes = point.attributes or {}
                        key = (
                            str(attributes["workflow.provider"]),
                            str(attributes["workflow.operation"]),
                            str(attributes["outcome"]),
                        )
                        found[key] = point
    return found


async def test_each_operation_counts_once_with_its_outcome_and_latency(
    reader: InMemoryMetricReader,
) -> None:
    registry = Registry()
    registry.register(MockProvider())
    manager = Manager(registry, default_provider="mock")
    before = {k: p.value for k, p in _points(reader, "landlord.workflow.operations").items()}
    await manager.create_workflow(SPEC)
    with pytest.raises(ExecutionNotFoundError):
        await manager.get_execution_status("never-started")
    counted = {
        key: point.value - before.get(key, 0)
        for key, point in _points(reader, "landlord.workflow.operations").items()
        if point.value != before.get(key, 0)
    }
    assert counted == {
        ("mock", "create_workflow", "ok"): 1,
        ("mock", "get_execution_status", "ExecutionNotFoundError"): 1,
    }
    latency = _points(reader, "landlord.workflow.operation.duration")
    assert latency[("mock", "create_workflow", "ok")].count >= 1
    assert latency[("mock", "create_workflow", "ok")].sum > 0


def _export(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`export_metrics(default="prometheus")` in a fresh interpreter (it sets the process's
    meter provider), then one operation through a Manager, then a scrape of what it serves."""
    script = textwrap.dedent(
        """
        import asyncio, sys, httpx
        from provider import Manager, Registry
        from provider.config import ConfigError
        from provider.metrics_export import export_metrics
        from provider.mock import MockProvider
        from telemetry import configure_logging
        configure_logging(level="off")
        SPEC = {"workflow_id": "w", "definition": {"steps": ["provision"]}}
        try:
            url = export_metrics(default="prometheus")
        except ConfigError as error:
            sys.exit(str(error))
        registry = Registry(); registry.register(MockProvider())
        asyncio.run(Manager(registry, default_provider="mock").validate(SPEC))
        print(url or "none")
        if url:
            print(httpx.get(url).text)
        """
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **environ},
    )


def test_the_prometheus_exporter_serves_the_operations() -> None:
    port = free_port()
    done = _export({"OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
                    "OTEL_EXPORTER_PROMETHEUS_PORT": str(port)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    url, _, text = done.stdout.partition("\n")
    assert url == f"http://127.0.0.1:{port}/metrics"
    assert "landlord_workflow_operations_total{" in text
    assert 'workflow_operation="validate"' in text
    assert "landlord_workflow_operation_duration_seconds_bucket{" in text


def test_none_serves_nothing() -> None:
    done = _export({"OTEL_METRICS_EXPORTER": "none"})
    assert (done.returncode, done.stdout.strip()) == (0, "none")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"OTEL_METRICS_EXPORTER": "statsd"},
            "invalid configuration: OTEL_METRICS_EXPORTER: 'statsd' is not one of "
            "prometheus, console, none",
        ),
        (
            {"OTEL_EXPORTER_PROMETHEUS_PORT": "http"},
            "invalid configuration: OTEL_EXPORTER_PROMETHEUS_PORT: 'http' is not a port (1-65535)",
        ),
    ],
)
def test_a_bad_variable_is_one_line(environ: dict[str, str], message: str) -> None:
    done = _export(environ)
    assert done.returncode == 1
    assert done.stderr.strip() == message


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _export({"OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
                        "OTEL_EXPORTER_PROMETHEUS_PORT": str(port)})  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().startswith(
        f"invalid configuration: OTEL_EXPORTER_PROMETHEUS_PORT: cannot serve metrics on "
        f"127.0.0.1:{port} ("
    )
