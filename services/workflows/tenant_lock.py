"""`TenantLock`: one writer per tenant. A virtual object keyed by tenant id hands the tenant to
one workflow at a time; the others wait in line, in arrival order, on an awakeable.

The object is private: only the deployment's workflows call it. An operator frees a tenant
through the admin API instead (`landlord-restate tenant unlock`): the holder is removed from
the state and those waiting are woken with False, which tells them to ask again; the first
in line then gets the tenant.

The tenant is held on a lease, not forever: each holder's lease ends at its own deadline plus
a grace (`LANDLORD_SERVICES_LOCK_GRACE`), counted by the object from the first ask. A holder
that Restate killed, or that is paused, can release nothing; the lease is what guarantees the
tenant comes free without an operator. While someone waits, a durable timer of the object's
own frees the tenant when the holder's lease ends; while nobody waits there is no timer (an
uncontended tenant needs no wake-up: the next `acquire` finds an ended lease itself). A holder
that is still alive at its deadline is unwinding, and renews the lease for each compensation
it runs.
"""

from __future__ import annotations

import time
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
    "Grant",
    "Lease",
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


class LockRequest(BaseModel):
    """Who asks (the workflow key), the awakeable to resolve when it is their turn (True: the
    tenant is theirs; False: ask again), and how long their lease lasts from their first ask
    (their timeout plus the grace). An ask again carries `lease_until`, fixed at the first."""

    holder: str
    awakeable_id: str
    lease_seconds: float
    lease_until: float | None = None


class Grant(BaseModel):
    """The lock's answer: whether the caller holds the tenant now, the lock's time then (epoch
    seconds), and when the caller's lease ends."""

    held: bool
    at: float
    lease_until: float


class Renewal(BaseModel):
    """A holder asking to keep the tenant for `lease_seconds` more."""

    holder: str
    lease_seconds: float


class Lease(BaseModel):
    """A holder's lease, as the timer that ends it remembers it."""

    holder: str
    lease_until: float


async def _clock() -> float:
    """Now, in epoch seconds."""
    return time.time()


async def _now(ctx: restate.ObjectContext) -> float:
    """The journaled current time (epoch seconds). A coroutine step, unlike `ctx.time()`,
    which runs its clock in a thread."""
    return await ctx.run_typed("timestamp", _clock)


async def _queue(ctx: restate.ObjectContext) -> list[WaitingOperation]:
    stored = await ctx.get(QUEUE_KEY, type_hint=WaitingLine)
    return stored.waiting if stored else []


def _arm(ctx: restate.ObjectContext, lease: Lease, now: float) -> None:
    """The timer that frees the tenant when `lease` ends, unless it was renewed or released."""
    ctx.object_send(
        expire,
        key=ctx.key(),
        arg=lease,
        send_delay=timedelta(seconds=max(0.0, lease.lease_until - now)),
    )


def _grant(ctx: restate.ObjectContext, lease: Lease, now: float, *, waiting: bool) -> None:
    """Make `lease.holder` the holder until `lease.lease_until`; timed only if others wait."""
    ctx.set(HOLDER_KEY, lease.holder)
    ctx.set(LEASE_KEY, lease.lease_until)
    if waiting:
        _arm(ctx, lease, now)


def _hand_over(ctx: restate.ObjectContext, queue: list[WaitingOperation], now: float) -> str | None:
    """Give the tenant to the first in line whose lease has not already run out (a waiter
    past its deadline has given up, or was killed); nobody left → the tenant is free.
    Returns the new holder."""
    live = [waiting for waiting in queue if waiting.lease_until > now]
    if not live:
        ctx.clear_all()
        return None
    following, *rest = live
    _grant(
        ctx,
        Lease(holder=following.holder, lease_until=following.lease_until),
        now,
        waiting=bool(rest),
    )
    if rest:
        ctx.set(QUEUE_KEY, WaitingLine(waiting=rest))
    else:
        ctx.clear(QUEUE_KEY)
    ctx.resolve_awakeable(following.awakeable_id, True)
    return following.holder


@tenant_lock.handler()
async def acquire(ctx: restate.ObjectContext, request: LockRequest) -> Grant:
    """Held: the caller holds the tenant now. Not held: queued; its awakeable resolves later."""
    now = await _now(ctx)
    lease_until = request.lease_until or now + request.lease_seconds
    current = await ctx.get(HOLDER_KEY, type_hint=str)
    if current == request.holder:
        return Grant(held=True, at=now, lease_until=lease_until)
    queue = await _queue(ctx)
    first_waiter = not queue
    asking = WaitingOperation(
        holder=request.holder, awakeable_id=request.awakeable_id, lease_until=lease_until
    )
    if any(waiting.holder == request.holder for waiting in queue):  # woken to ask again
        queue = [asking if w.holder == request.holder else w for w in queue]
    elif current is not None or queue:
        queue = [*queue, asking]
    current_lease = 0.0
    if current is not None:
        current_lease = await ctx.get(LEASE_KEY, type_hint=float) or 0.0
        if current_lease <= now:
            current = None  # the lease ran out (nobody waited for it, or its timer is on the way)
    if current is None and queue:  # freed while others wait: the first in line goes first
        held = _hand_over(ctx, queue, now) == request.holder
    elif current is None:
        _grant(ctx, Lease(holder=request.holder, lease_until=lease_until), now, waiting=False)
        held = True
    else:
        ctx.set(QUEUE_KEY, WaitingLine(waiting=queue))
        if first_waiter:  # from now on someone waits for the holder's lease to end
            _arm(ctx, Lease(holder=current, lease_until=current_lease), now)
        held = False
    return Grant(held=held, at=now, lease_until=lease_until)


@tenant_lock.handler()
async def release(ctx: restate.ObjectContext, releasing: str) -> None:
    """Give the tenant to the next in line; a waiter that gives up is taken out of the line."""
    current = await ctx.get(HOLDER_KEY, type_hint=str)
    queue = await _queue(ctx)
    if current != releasing:
        kept = [w for w in queue if w.holder != releasing]
        if len(kept) != len(queue):
            ctx.set(QUEUE_KEY, WaitingLine(waiting=kept))
        return
    _hand_over(ctx, queue, await _now(ctx) if queue else 0.0)


@tenant_lock.handler()
async def renew(ctx: restate.ObjectContext, renewal: Renewal) -> Grant:
    """Extend the holder's lease; not held when the caller no longer holds the tenant."""
    now = await _now(ctx)
    lease_until = now + renewal.lease_seconds
    if await ctx.get(HOLDER_KEY, type_hint=str) != renewal.holder:
        return Grant(held=False, at=now, lease_until=lease_until)
    current = await ctx.get(LEASE_KEY, type_hint=float) or 0.0
    if lease_until > current:
        lease = Lease(holder=renewal.holder, lease_until=lease_until)
        _grant(ctx, lease, now, waiting=bool(await _queue(ctx)))
    return Grant(held=True, at=now, lease_until=max(lease_until, current))


@tenant_lock.handler()
async def expire(ctx: restate.ObjectContext, lease: Lease) -> None:
    """The lease timer: free the tenant if that lease is still the holder's (not renewed)."""
    if await ctx.get(HOLDER_KEY, type_hint=str) != lease.holder:
        return
    if (await ctx.get(LEASE_KEY, type_hint=float) or 0.0) > lease.lease_until:
        return
    _hand_over(ctx, await _queue(ctx), await _now(ctx))


@tenant_lock.handler(kind="shared")
async def holder(ctx: restate.ObjectSharedContext) -> str | None:
    """The workflow that holds the tenant now, if any."""
    return await ctx.get(HOLDER_KEY, type_hint=str)
