"""`TenantLock`: one writer per tenant. A virtual object keyed by tenant id hands the tenant to
one workflow at a time; the others wait in line, in arrival order, on an awakeable."""

from __future__ import annotations

import restate
from pydantic import BaseModel

__all__ = ["LockRequest", "acquire", "holder", "release", "tenant_lock"]

tenant_lock = restate.VirtualObject(
    "TenantLock", description="Serializes operations on one tenant (keyed by tenant id)."
)


class LockRequest(BaseModel):
    """Who asks (the workflow key) and the awakeable to resolve when it is their turn."""

    holder: str
    awakeable_id: str


class LockQueue(BaseModel):
    """The workflows waiting for the tenant, in arrival order."""

    waiting: list[LockRequest] = []


async def _queue(ctx: restate.ObjectContext) -> list[LockRequest]:
    stored = await ctx.get("queue", type_hint=LockQueue)
    return stored.waiting if stored else []


@tenant_lock.handler()
async def acquire(ctx: restate.ObjectContext, request: LockRequest) -> bool:
    """True: the caller holds the tenant now. False: queued; its awakeable resolves later."""
    current = await ctx.get("holder", type_hint=str)
    if current is None or current == request.holder:
        ctx.set("holder", request.holder)
        return True
    queue = await _queue(ctx)
    if all(waiting.holder != request.holder for waiting in queue):
        ctx.set("queue", LockQueue(waiting=[*queue, request]))
    return False


@tenant_lock.handler()
async def release(ctx: restate.ObjectContext, releasing: str) -> None:
    """Give the tenant to the next in line; a waiter that gives up is taken out of the line."""
    queue = await _queue(ctx)
    if await ctx.get("holder", type_hint=str) != releasing:
        ctx.set("queue", LockQueue(waiting=[w for w in queue if w.holder != releasing]))
        return
    if not queue:
        ctx.clear("holder")
        return
    following, *rest = queue
    ctx.set("holder", following.holder)
    ctx.set("queue", LockQueue(waiting=rest))
    ctx.resolve_awakeable(following.awakeable_id, True)


@tenant_lock.handler(kind="shared")
async def holder(ctx: restate.ObjectSharedContext) -> str | None:
    """The workflow that holds the tenant now, if any."""
    return await ctx.get("holder", type_hint=str)
