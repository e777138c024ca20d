"""The control plane's metrics, recorded through the OpenTelemetry API by the `Manager`.

Nothing here exports: the host process picks the exporter (the standard `OTEL_*` variables
through `provider.metrics_export`, or its own SDK setup); until it does, recording is a no-op.
"""

from __future__ import annotations

from opentelemetry import metrics

__all__ = ["OPERATIONS", "OPERATION_DURATION", "PROMETHEUS_NAMES", "record_operation"]

_meter = metrics.get_meter("landlord.workflow")

OPERATIONS = _meter.create_counter(
    "landlord.workflow.operations",
    unit="{operation}",
    description="Workflow operations the Manager ran, by provider, operation and outcome.",
)
OPERATION_DURATION = _meter.create_histogram(
    "landlord.workflow.operation.duration",
    unit="s",
    description="How long one workflow operation took, by provider, operation and outcome.",
    explicit_bucket_boundaries_advisory=[
        0.001,
        0.0025,
        0.005,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        0.5,
        1,
        2.5,
        5,
        10,
        30,
        60,
    ],
)

PROMETHEUS_NAMES = frozenset(
    {
        "landlord_workflow_operations_total",
        "landlord_workflow_operation_duration_seconds",
    }
)
"""The names OpenTelemetry's Prometheus exporter gives these (histograms add the suffixes)."""


def record_operation(*, provider: str, operation: str, outcome: str, seconds: float) -> None:
    """Count one operation and its latency; `outcome` is `ok` or the error's class name."""
    attributes = {
        "workflow.provider": provider,
        "workflow.operation": operation,
        "outcome": outcome,
    }
    OPERATIONS.add(1, attributes)
    OPERATION_DURATION.record(seconds, attributes)
