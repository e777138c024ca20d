"""The services' Prometheus metrics, served at `/metrics` beside the Restate endpoints.

Each counts what really happened once: a handler's code runs again every time Restate replays
its journal, so every count made in handler code is skipped while the SDK says it is replaying.
A step's own body runs only when the step really runs, so what it measures needs no such care.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from restate.server_context import restate_context_is_replaying

__all__ = [
    "CALLBACK_FAILURES",
    "COMPENSATIONS",
    "LOCK_WAIT",
    "METRIC_NAMES",
    "OPERATIONS_ENDED",
    "OPERATIONS_STARTED",
    "SCRAPED",
    "SECRET_OPEN_FAILURES",
    "STEP_DURATION",
    "live",
    "step_kind",
    "timed_step",
]

SCRAPED: CollectorRegistry = REGISTRY
"""What `/metrics` shows: these metrics, and the process's own (CPU, memory, file descriptors)."""

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

OPERATIONS_STARTED = Counter(
    "landlord_tenant_operations_started",
    "Tenant operations that got past their request checks and began.",
    ["operation"],
)
OPERATIONS_ENDED = Counter(
    "landlord_tenant_operations_ended",
    "Tenant operations that ended, by how (succeeded, failed, cancelled, timed_out).",
    ["operation", "outcome"],
)
STEP_DURATION = Histogram(
    "landlord_tenant_step_duration_seconds",
    "How long one attempt of a durable step took, by step and whether it raised.",
    ["step", "outcome"],
    buckets=_SECONDS,
)
COMPENSATIONS = Counter(
    "landlord_tenant_compensations",
    "Saga compensations, by outcome (compensated, skipped, failed).",
    ["outcome"],
)
LOCK_WAIT = Histogram(
    "landlord_tenant_lock_wait_seconds",
    "From an operation's first ask for its tenant's lock until it held it.",
    ["operation"],
    buckets=_SECONDS,
)
CALLBACK_FAILURES = Counter(
    "landlord_tenant_callback_failures",
    "Transition callbacks to the control plane that gave up (refused, or out of retries).",
)
SECRET_OPEN_FAILURES = Counter(
    "landlord_secret_open_failures",
    "Secrets of a tenant config that could not be opened (decrypted or resolved).",
)

METRIC_NAMES = frozenset(
    {
        "landlord_tenant_operations_started_total",
        "landlord_tenant_operations_ended_total",
        "landlord_tenant_step_duration_seconds",
        "landlord_tenant_compensations_total",
        "landlord_tenant_lock_wait_seconds",
        "landlord_tenant_callback_failures_total",
        "landlord_secret_open_failures_total",
    }
)
"""The names a scrape shows (counters with `_total`; histograms add `_bucket`/`_sum`/`_count`)."""

_NUMBERED = re.compile(r" \d+$")


def live() -> bool:
    """Whether handler code is running for the first time (not replaying the journal)."""
    return not restate_context_is_replaying.get()


def step_kind(name: str) -> str:
    """A step's name without its ordinal (`health check 3` → `health check`), for a label."""
    return _NUMBERED.sub("", name)


@contextmanager
def timed_step(name: str) -> Iterator[None]:
    """Observe one attempt of step `name` in `STEP_DURATION` (call inside the step's body)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        STEP_DURATION.labels(step=step_kind(name), outcome=outcome).observe(
            time.perf_counter() - started
        )
