"""Spans of the services: one per attempt at a workflow run, one per step attempt.

A run's span continues the trace the control plane started (the `traceparent` it sent with
the start, which Restate keeps among the invocation's headers), so one trace runs from
`Manager.start_execution` through every step. Spans go wherever the process's OpenTelemetry
SDK sends them; without one they cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import restate
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from restate.exceptions import SdkInternalBaseException

__all__ = ["run_span", "step_span"]

_tracer = trace.get_tracer("landlord.services")
_propagator = TraceContextTextMapPropagator()


@contextmanager
def run_span(
    name: str, ctx: restate.Context, *, workflow_id: str, execution_name: str
) -> Iterator[Span]:
    """The current span for one attempt at the run `ctx` serves, a child of the trace its start
    carried (if any), with the ids its log lines carry.

    An attempt that suspends (to wait, or to replay) ends its span without an error."""
    request = ctx.request()
    with _tracer.start_as_current_span(
        name,
        context=_propagator.extract(dict(request.headers)),
        kind=SpanKind.SERVER,
        attributes={
            "workflow_id": workflow_id,
            "execution_id": request.id,
            "execution_name": execution_name,
        },
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except SdkInternalBaseException:
            span.set_attribute("restate.attempt", "suspended")
            raise
        except BaseException as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise


@contextmanager
def step_span(name: str) -> Iterator[Span]:
    """The current span for one attempt at step `name` (call inside the step's body)."""
    with _tracer.start_as_current_span(f"step {name}", attributes={"step": name}) as span:
        yield span
