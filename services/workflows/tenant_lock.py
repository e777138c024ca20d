"""`TenantLock`: one writer per tenant. A virtual object keyed by tenant id hands the tenant to
one workflow at a time; the others wait in line, in arrival order, on an awakeable.

The object is private: only the deployment's workflows call it. An operator frees a tenant
through the admin API instead (`landlord-restate tenant unlock`): the holder is removed from
the state and those waiting are woken with False, which tells them to ask again; the first
in line then gets the tenant.

The tenant is held on a lease, not forever: each holder's lease ends at its own deadline plus
a grace (`LANDLORD_SERVICES_LOCK_GRACE`), and a durable timer of the object's own frees the
tenant then. A holder that Restate killed, or that is paused, can release nothing; the lease
is what guarantees the tenant comes free without an operator. A holder that is still alive at
its deadline is unwinding, and renews the lease for each compensation it runs.
"""

from __future__ import annotations

from datetime import timedelta

import restate
from pydantic import BaseModel

from ..contract import (
    LOCK_HOLDER_KEY,
    LOCK_LEASE_KEY,
    LOCK_QUEUE_KEY,
    LOCK_SERVICE,
    WaitingLine,
    WaitingOperation,
)

__all__ = [
    "LockRequest",
    "Renewal",
    "acquire",
    "expire",
    "holder",
    "release",
    "renew",
    "tenant_lock",
]

tenant_lock = restate.VirtualObject(
    LOCK_SERVICE,
    description="Serializes operations on one tenant (keyed by tenant id).",
    ingress_private=True,
)

HOLDER_KEY = LOCK_HOLDER_KEY
LEASE_KEY = LOCK_LEASE_KEY
QUEUE_KEY = LOCK_QUEUE_KEY

LockRequest = WaitingOperation
"""Who asks (the workflow key), the awakeable to resolve when it is their turn (True: the
tenant is theirs; False: ask again), and when their lease would end (epoch seconds: their
deadline plus the grace)."""


class Renewal(BaseModel):
    """A holder asking to keep the tenant until `lease_until` (epoch seconds)."""

    holder: str
    lease_until: float


async def _queue(ctx: restate.ObjectContext) -> list[LockRequest]:
    stored = await ctx.get(QUEUE_KEY, type_hint=WaitingLine)
    return stored.waiting if stored else []


def _grant(ctx: restate.ObjectContext, holder: str, lease_until: float, now: float) -> None:
    """Make `holder` the holder until `lease_until`, and arm the timer that ends its lease."""
    ctx.set(HOLDER_KEY, holder)
    ctx.set(LEASE_KEY, lease_until)
    ctx.object_send(
        expire,
        key=ctx.key(),
        arg=Renewal(holder=holder, lease_until=lease_until),
        send_delay=timedelta(seconds=max(0.0, lease_until - now)),
    )


def _hand_over(
    ctx: restate.ObjectContext, queue: list[LockRequest], now: float
) -> tuple[str | None, list[LockRequest]]:
    """Give the tenant to the first in line whose lease has not already run out (a waiter
    past its deadline has given up, or was killed); nobody left → the tenant is free.
    Returns the new holder and who still waits."""
    live = [waiting for waiting in queue if waiting.lease_until > now]
    if not live:
        ctx.clear(HOLDER_KEY)
        ctx.clear(LEASE_KEY)
        ctx.clear(QUEUE_KEY)
        return None, []
    following, *rest = live
    _grant(ctx, following.holder, following.lease_until, now)
    ctx.set(QUEUE_KEY, WaitingLine(waiting=rest))
    ctx.resolve_awakeable(following.awakeable_id, True)
    return following.holder, rest


@tenant_lock.handler()
async def acquire(ctx: restate.ObjectContext, request: LockRequest) -> bool:
    """True: the caller holds the tenant now. False: queued; its awakeable resolves later."""
    now = await ctx.time()
    current = await ctx.get(HOLDER_KEY, type_hint=str)
    if current == request.holder:
        return True
    queue = await _queue(ctx)
    if any(waiting.holder == request.holder for waiting in queue):  # woken to ask again
        queue = [request if w.holder == request.holder else w for w in queue]
    elif current is not None or queue:
        queue = [*queue, request]
    if current is not None and (await ctx.get(LEASE_KEY, type_hint=float) or 0.0) <= now:
        current = None  # the lease ran out before its timer
    if current is None and queue:  # freed while others wait: the first in line goes first
        current, queue = _hand_over(ctx, queue, now)
        return current == request.holder
    if current is None:
        _grant(ctx, request.holder, request.lease_until, now)
        return True
    ctx.set(QUEUE_KEY, WaitingLine(waiting=queue))
    return False


@tenant_lock.handler()
async def release(ctx: restate.ObjectContext, releasing: str) -> None:
    """Give the tenant to the next in line; a waiter that gives up is taken out of the line."""
    queue = await _queue(ctx)
    if await ctx.get(HOLDER_KEY, type_hint=str) != releasing:
        ctx.set(QUEUE_KEY, WaitingLine(waiting=[w for w in queue if w.holder != releasing]))
        return
    _hand_over(ctx, queue, await ctx.time())


@tenant_lock.handler()
async def renew(ctx: restate.ObjectContext, renewal: Renewal) -> bool:
    """Extend the holder's lease; False when the caller no longer holds the tenant."""
    if await ctx.get(HOLDER_KEY, type_hint=str) != renewal.holder:
        return False
    current = await ctx.get(LEASE_KEY, type_hint=float) or 0.0
    if renewal.lease_until > current:
        _grant(ctx, renewal.holder, renewal.lease_until, await ctx.time())
    return True


@tenant_lock.handler()
async def expire(ctx: restate.ObjectContext, lease: Renewal) -> None:
    """The lease timer: free the tenant if that lease is still the holder's (not renewed)."""
    if await ctx.get(HOLDER_KEY, type_hint=str) != lease.holder:
        return
    if (await ctx.get(LEASE_KEY, type_hint=float) or 0.0) > lease.lease_until:
        return
    _hand_over(ctx, await _queue(ctx), await ctx.time())


@tenant_lock.handler(kind="shared")
async def holder(ctx: restate.ObjectSharedContext) -> str | None:
    """The workflow that holds the tenant now, if any."""
    return await ctx.get(HOLDER_KEY, type_hint=str)
