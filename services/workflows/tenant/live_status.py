"""The live status: the `status` state key the `status` handler answers from, its timestamped
events and log lines, and the durable callback that tells the control plane of each transition.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import restate
from pydantic import JsonValue
from structlog.typing import FilteringBoundLogger

from ...contract import ProvisionRequest, StatusEvent, TenantPhase, TenantStatus
from .steps import Steps, is_cancellation

__all__ = ["STATUS_KEY", "LiveStatus", "Outcome"]

STATUS_KEY = "status"
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
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(url, json=body, headers={"Idempotency-Key": key})
    if response.status_code in (408, 429) or response.status_code >= 500:
        raise RuntimeError(f"callback answered {response.status_code}")
    if response.status_code >= 400:
        raise restate.TerminalError(f"callback refused with {response.status_code}", 400)


class LiveStatus:
    """One run's `TenantStatus`, published to workflow state whenever it changes."""

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

    @property
    def started_at(self) -> datetime:
        """When the run was requested (its first event's time)."""
        return self.status.events[0].at

    def publish(self) -> None:
        """Write the status to the state key, for the `status` handler to answer with."""
        self.steps.ctx.set(STATUS_KEY, self.status)

    def at_step(self, step: str) -> None:
        """Show `step` as the current one."""
        self.status.step = step
        self.publish()

    async def record(
        self, type_: str, message: str = "", *, notify: bool = False, level: str = "info"
    ) -> None:
        """Append a timestamped event, publish the status, and (for transitions) call back."""
        event = StatusEvent(
            at=await self.steps.now(),
            type=type_,
            phase=self.status.phase,
            step=self.status.step,
            message=message,
        )
        self.status.events.append(event)
        self.publish()
        self.log.log(
            logging.getLevelNamesMapping()[level.upper()],
            type_,
            phase=self.status.phase.value,
            step=self.status.step,
            detail=message,
        )
        if notify and self.request.api_base_url is not None:
            await self._notify(event)

    async def step_done(self, type_: str, message: str = "") -> None:
        """Count one more step done, and record it as event `type_`."""
        self.status.steps_done += 1
        await self.record(type_, message)

    async def transition(self, phase: TenantPhase, message: str = "") -> None:
        """Move to `phase`, and tell the control plane."""
        self.status.phase = phase
        await self.record("transition", message, notify=True)

    async def end(self, phase: TenantPhase, outcome: Outcome, error: str | None = None) -> None:
        """Record how the run ended (`error` if it failed), and its last transition."""
        self.status.outcome = outcome
        if error is not None:
            self.status.error = error
        self.status.step = None
        await self.transition(phase, error or "")

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
            self.log.warning("callback failed", error=error.message)
