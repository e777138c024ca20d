"""The live status: the `status` state key the `status` handler answers from, its timestamped
events and log lines, and the durable callback that tells the control plane of each transition.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import restate
from pydantic import JsonValue
from structlog.typing import FilteringBoundLogger

from ... import metrics
from ...contract import STATUS_STATE_KEY, ProvisionRequest, StatusEvent, TenantPhase, TenantStatus
from .steps import Steps, is_cancellation, observed

__all__ = ["STATUS_KEY", "LiveStatus", "Outcome"]

STATUS_KEY = STATUS_STATE_KEY
"""The workflow state key holding the `TenantStatus` (read by the `status` handler)."""

Outcome = Literal["succeeded", "failed", "cancelled", "timed_out"]
"""How a run ended, as its status reports it."""

_CALLBACK_OPTIONS: restate.RunOptions[Any] = restate.RunOptions(
    max_attempts=6,
    initial_retry_interval=timedelta(milliseconds=500),
    max_retry_interval=timedelta(seconds=10),
)


async def _post_transition(url: str, body: dict[str, JsonValue], key: str) -> None:
    """POST one transition to the control plane; 4xx other than 408/429 is final."""
    with observed("notify"):
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(url, json=body, headers={"Idempotency-Key": key})
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise RuntimeError(f"callback answered {response.status_code}")
        if response.status_code >= 400:
            raise restate.TerminalError(f"callback refused with {response.status_code}", 400)


class LiveStatus:
    """One run's `TenantStatus`. Events take their time from what the run learned (a step's
    result, the lock's answer); the status is written to state once per step, not per event:
    before each step (a callback included) and at the end, if it changed."""

    def __init__(
        self,
        steps: Steps,
        request: ProvisionRequest,
        *,
        steps_total: int,
        log: FilteringBoundLogger,
    ) -> None:
        self.steps = steps
        self.request = request
        self.log = log
        self.key = steps.ctx.key()
        self.status = TenantStatus(
            tenant_id=request.tenant_id,
            operation=request.operation,
            steps_total=steps_total,
        )
        self.last_at = 0.0
        """The time of the latest event (epoch seconds)."""
        self._changed = False

    def publish(self) -> None:
        """Write the status to the state key, for the `status` handler to answer with, if it
        changed since the last write."""
        if self._changed:
            self.steps.ctx.set(STATUS_KEY, self.status)
            self._changed = False

    def at_step(self, step: str) -> None:
        """Show `step` as the current one, with every event so far (published)."""
        self.status.step = step
        self._changed = True
        self.publish()

    def record(
        self, type_: str, message: str = "", *, at: float, level: int = logging.INFO
    ) -> StatusEvent:
        """Append an event that happened `at` (epoch seconds); the next publish shows it."""
        event = StatusEvent(
            at=datetime.fromtimestamp(at, UTC),
            type=type_,
            phase=self.status.phase,
            step=self.status.step,
            message=message,
        )
        self.status.events.append(event)
        self.last_at = at
        self._changed = True
        self.log.log(
            level,
            type_,
            phase=self.status.phase.value,
            step=self.status.step,
            detail=message,
        )
        return event

    def step_done(self, type_: str, message: str = "", *, at: float) -> None:
        """Count one more step done, and record it as event `type_`."""
        self.status.steps_done += 1
        self.record(type_, message, at=at)

    async def transition(self, phase: TenantPhase, message: str = "", *, at: float) -> None:
        """Move to `phase`, and tell the control plane (a step: the status is published first)."""
        self.status.phase = phase
        event = self.record("transition", message, at=at)
        if self.request.api_base_url is not None:
            self.publish()
            await self._notify(event)

    async def end(
        self, phase: TenantPhase, outcome: Outcome, error: str | None = None, *, at: float
    ) -> None:
        """Record how the run ended (`error` if it failed) and its last transition; publish."""
        if not self.status.events:  # stopped before the lock first answered
            self.record("requested", at=at)
        self.status.outcome = outcome
        if error is not None:
            self.status.error = error
        self.status.step = None
        await self.transition(phase, error or "", at=at)
        self.publish()

    async def _notify(self, event: StatusEvent) -> None:
        """Tell the control plane, durably: retried, journaled, deduplicated by key."""
        sequence = len(self.status.events)
        body: dict[str, JsonValue] = {
            "tenant_id": self.request.tenant_id,
            "tenant_uuid": self.request.tenant_uuid,
            "execution": self.key,
            "operation": self.request.operation.value,
            "sequence": sequence,
            "event": json.loads(event.model_dump_json()),
        }
        try:
            await self.steps.wait(
                self.steps.ctx.run_typed(
                    f"notify {event.phase.value}",
                    _post_transition,
                    _CALLBACK_OPTIONS,
                    str(self.request.api_base_url),
                    body,
                    f"{self.key}:{sequence}",
                )
            )
        except restate.TerminalError as error:
            if is_cancellation(error):
                raise
            if metrics.live():
                metrics.CALLBACK_FAILURES.inc()
            self.log.warning("callback failed", error=error.message)
