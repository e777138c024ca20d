"""Exporting the control plane's metrics from a long-running process, set up from the standard
OpenTelemetry variables: `OTEL_METRICS_EXPORTER` (`prometheus`, `console` or `none`) and, for
`prometheus`, `OTEL_EXPORTER_PROMETHEUS_HOST` / `OTEL_EXPORTER_PROMETHEUS_PORT` (default
localhost:9464), where an HTTP server then answers `/metrics` — unless the process serves
`/metrics` itself (the controller), when the exporter only feeds prometheus_client's registry.

A host that sets up its own OpenTelemetry SDK (e.g. `opentelemetry-instrument`) keeps it:
`provider.metrics` records through the API into whatever provider is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .config.errors import ConfigError

__all__ = ["EXPORTERS", "export_metrics"]

EXPORTERS = ("prometheus", "console", "none")
_DEFAULT_HOST = "localhost"
_DEFAULT_PORT = 9464


def _prometheus_address(environ: Mapping[str, str]) -> tuple[str, int]:
    host = environ.get("OTEL_EXPORTER_PROMETHEUS_HOST") or _DEFAULT_HOST
    raw = environ.get("OTEL_EXPORTER_PROMETHEUS_PORT") or str(_DEFAULT_PORT)
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ConfigError.single(
            "OTEL_EXPORTER_PROMETHEUS_PORT", f"{raw!r} is not a port (1-65535)"
        )
    return host, port


def export_metrics(
    *, environ: Mapping[str, str] | None = None, default: str = "none", own_server: bool = True
) -> str | None:
    """Install the SDK's meter provider with the exporter `OTEL_METRICS_EXPORTER` names
    (`default` when unset); the URL of the Prometheus endpoint when it serves one. Without
    `own_server`, `prometheus` starts no server (the caller serves the default registry).

    A bad value, or a busy port, raises `ConfigError` with one line; nothing is installed. A
    meter provider the process set up already is kept."""
    env = os.environ if environ is None else environ
    choice = (env.get("OTEL_METRICS_EXPORTER") or default).strip().lower()
    if choice not in EXPORTERS:
        raise ConfigError.single(
            "OTEL_METRICS_EXPORTER", f"{choice!r} is not one of {', '.join(EXPORTERS)}"
        )
    if choice == "none":
        return None
    try:
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            MetricReader,
            PeriodicExportingMetricReader,
        )
    except ImportError:
        raise ConfigError.single(
            "OTEL_METRICS_EXPORTER",
            "needs the OpenTelemetry SDK (pip install 'landlord-restate[cli]')",
        ) from None
    if isinstance(metrics.get_meter_provider(), MeterProvider):
        return None
    url: str | None = None
    reader: MetricReader
    if choice == "prometheus":
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import start_http_server

        if own_server:
            host, port = _prometheus_address(env)
            try:
                start_http_server(port, addr=host)
            except OSError as error:
                raise ConfigError.single(
                    "OTEL_EXPORTER_PROMETHEUS_PORT",
                    f"cannot serve metrics on {host}:{port} ({error.strerror or error})",
                ) from None
            url = f"http://{host}:{port}/metrics"
        reader = PrometheusMetricReader()
    else:
        reader = PeriodicExportingMetricReader(ConsoleMetricExporter())
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return url
