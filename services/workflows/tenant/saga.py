"""The saga: each step's compensation registered before the step runs, undone newest first.

Restate's saga pattern (a list of compensations, run in reverse when the run cannot finish),
with one addition for the tenant's lease: before each compensation the run renews its hold,
and skips the compensation if the hold had expired (the tenant may be another run's by now).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import restate

from ... import metrics
from .live_status import LiveStatus
from .steps import Steps, observed
from .tenant_hold import TenantHold

__all__ = ["Compensation", "Saga"]

_COMPENSATION_OPTIONS: restate.RunOptions[Any] = restate.RunOptions(
    max_attempts=10,
    initial_retry_interval=timedelta(milliseconds=500),
    max_retry_interval=timedelta(seconds=10),
)
_COMPENSATION_LEASE = timedelta(minutes=2)
"""How long one compensation may hold the tenant past its start (its retries' whole budget)."""


def _timed(
    name: str, undo: Callable[[], Coroutine[Any, Any, None]]
) -> Callable[[], Coroutine[Any, Any, float]]:
    """`undo` as step `name`, whose result is when it ended (epoch seconds)."""

    async def undone_at() -> float:
        with observed(name):
            await undo()
        return time.time()

    return undone_at


@dataclass(frozen=True)
class Compensation:
    """How to undo `step`: an idempotent `async def` (or a partial of one), run as a step."""

    step: str
    undo: Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Saga:
    """The compensations of the steps started so far, newest last (rebuilt on every replay)."""

    compensations: list[Compensation] = field(default_factory=list)

    def register(self, step: str, undo: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Register `undo` for `step`; call before the step runs."""
        self.compensations.append(Compensation(step, undo))

    def drain(self) -> list[Compensation]:
        """The compensations to run, newest first; the saga is empty afterwards."""
        pending, self.compensations = list(reversed(self.compensations)), []
        return pending

    async def unwind(self, steps: Steps, live: LiveStatus, hold: TenantHold) -> None:
        """Undo the steps newest first, each a durable step recorded compensated/skipped/failed."""
        await steps.settle_in_flight()
        for compensation in self.drain():
            name = f"compensate {compensation.step}"
            live.at_step(name)
            kept = await hold.keep(hold.grace + _COMPENSATION_LEASE)
            if not kept.held:
                _count("skipped")
                live.record(
                    "compensation skipped",
                    f"{compensation.step}: this run's hold on the tenant expired",
                    at=kept.at,
                    level=logging.ERROR,
                )
                continue
            try:
                undone_at = await steps.wait(
                    steps.ctx.run_typed(
                        name, _timed(name, compensation.undo), _COMPENSATION_OPTIONS
                    )
                )
            except restate.TerminalError as error:
                _count("failed")
                live.record(
                    "compensation failed", error.message, at=await steps.now(), level=logging.ERROR
                )
            else:
                _count("compensated")
                live.record("compensated", compensation.step, at=undone_at)


def _count(outcome: str) -> None:
    """Count one compensation's outcome, once (not again when the unwind is replayed)."""
    if metrics.live():
        metrics.COMPENSATIONS.labels(outcome=outcome).inc()
