"""The run's hold on its tenant: the client side of `TenantLock` (see `../tenant_lock.py`).

Acquire waits in line behind earlier operations, asking again when woken with False; the hold
is a lease that ends at this run's deadline plus the grace, renewed while the run unwinds, and
released when the run ends.
"""

from __future__ import annotations

from datetime import timedelta

from ..tenant_lock import LockRequest, Renewal, acquire, release, renew
from .live_status import LiveStatus
from .steps import Steps

__all__ = ["TenantHold"]


class TenantHold:
    """One run's lease on its tenant, keyed by the run's workflow key."""

    def __init__(self, steps: Steps, tenant_id: str, *, grace: timedelta) -> None:
        self.steps = steps
        self.tenant_id = tenant_id
        self.grace = grace
        """How long past the run's deadline the lease lasts."""
        self.key = steps.ctx.key()

    async def acquire(self, live: LiveStatus, run_timeout: timedelta) -> None:
        """Hold the tenant, waiting in line; leased to the run's deadline plus the grace."""
        # The lease ends whatever becomes of this run (killed, paused), so the tenant comes free.
        # A wake-up with False (an operator freed the tenant) means: ask again.
        lease_until = live.started_at + run_timeout + self.grace
        waiting = False
        while True:
            awakeable_id, turn = self.steps.ctx.awakeable(type_hint=bool)
            request = LockRequest(
                holder=self.key, awakeable_id=awakeable_id, lease_until=lease_until.timestamp()
            )
            if await self.steps.ctx.object_call(acquire, key=self.tenant_id, arg=request):
                return
            if not waiting:
                waiting = True
                await live.record("waiting", "another operation on this tenant is in progress")
            await self.steps.race(turn, "waiting for the tenant")
            if await turn:
                return

    async def keep(self, budget: timedelta) -> bool:
        """Extend the lease for `budget` more; False if it ran out (a paused run resumed late)."""
        until = await self.steps.now() + budget
        renewal = Renewal(holder=self.key, lease_until=until.timestamp())
        return await self.steps.wait(
            self.steps.ctx.object_call(renew, key=self.tenant_id, arg=renewal)
        )

    def release(self) -> None:
        """Hand the tenant to the next in line (a one-way send: the run does not wait)."""
        self.steps.ctx.object_send(release, key=self.tenant_id, arg=self.key)
