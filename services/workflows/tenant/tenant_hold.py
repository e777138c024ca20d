"""The run's hold on its tenant: the client side of `TenantLock` (see `../tenant_lock.py`).

Acquire waits in line behind earlier operations, asking again when woken with False; the hold
is a lease that ends at this run's deadline plus the grace (the lock counts it from the first
ask), renewed while the run unwinds, and released when the run ends.
"""

from __future__ import annotations

from datetime import timedelta

import restate

from ... import metrics
from ..tenant_lock import Grant, LockRequest, Renewal, acquire, release, renew
from .live_status import LiveStatus
from .steps import Steps, is_cancellation

__all__ = ["TenantHold"]


class TenantHold:
    """One run's lease on its tenant, keyed by the run's workflow key."""

    def __init__(self, steps: Steps, tenant_id: str, *, grace: timedelta, operation: str) -> None:
        self.steps = steps
        self.tenant_id = tenant_id
        self.operation = operation
        """What the run does to the tenant (the lock-wait metric's label)."""
        self.grace = grace
        """How long past the run's deadline the lease lasts."""
        self.key = steps.ctx.key()

    async def acquire(self, live: LiveStatus, run_timeout: timedelta) -> float:
        """Hold the tenant, waiting in line; leased to the run's deadline plus the grace.

        Records the request at the lock's first answer (and the wait, if any). Returns when the
        tenant became this run's (epoch seconds)."""
        # The lease ends whatever becomes of this run (killed, paused), so the tenant comes free.
        # A wake-up with False (an operator freed the tenant) means: ask again.
        lease_seconds = (run_timeout + self.grace).total_seconds()
        lease_until: float | None = None
        asked_at = 0.0
        while True:
            awakeable_id, turn = self.steps.ctx.awakeable(type_hint=bool)
            request = LockRequest(
                holder=self.key,
                awakeable_id=awakeable_id,
                lease_seconds=lease_seconds,
                lease_until=lease_until,
            )
            grant = await self.steps.ctx.object_call(acquire, key=self.tenant_id, arg=request)
            if lease_until is None:
                asked_at = grant.at
                live.record("requested", at=grant.at)
            if grant.held:
                return self._waited(asked_at, grant.at)
            if lease_until is None:
                live.record(
                    "waiting", "another operation on this tenant is in progress", at=grant.at
                )
                live.publish()
            lease_until = grant.lease_until
            await self.steps.race(turn, "waiting for the tenant")
            if await turn:
                return self._waited(asked_at, await self.steps.now())

    def _waited(self, asked_at: float, held_at: float) -> float:
        """Count the wait for the lock, once (not again on a replay); `held_at` back."""
        if metrics.live():
            metrics.LOCK_WAIT.labels(operation=self.operation).observe(max(held_at - asked_at, 0))
        return held_at

    async def keep(self, budget: timedelta) -> Grant:
        """Extend the lease for `budget` more; not held if it ran out (a paused run resumed
        late). The answer carries the lock's time."""
        renewal = Renewal(holder=self.key, lease_seconds=budget.total_seconds())
        while True:
            try:
                return await self.steps.wait(
                    self.steps.ctx.object_call(renew, key=self.tenant_id, arg=renewal)
                )
            except restate.TerminalError as error:
                # A stop that lands while the renewal is in flight cancels the call as well (the
                # SDK cancels a cancelled run's calls). The run unwinds regardless: ask again.
                if not (self.steps.ending and is_cancellation(error)):
                    raise

    def release(self) -> None:
        """Hand the tenant to the next in line (a one-way send: the run does not wait)."""
        self.steps.ctx.object_send(release, key=self.tenant_id, arg=self.key)
