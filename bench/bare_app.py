"""`bench.bare_app:app`: the Restate skeleton of a tenant `provision`, with trivial bodies.

The baseline for `bench/provision.py`. It performs the same Restate operations, in the same
order, that `TenantProvisioning.run` performs for `operation: provision` on the `mock` backend
with a healthy-at-once config and no `api_base_url` (counted in
services/workflows/tenant/), so the throughput ratio real/bare measures the cost of our
code (validation, models, status documents, logging), not Restate's:

- 1 durable timer (the deadline, never awaited, raced by every step),
- 5 `ctx.time()` (each a `run_typed("timestamp")`) and 7 `ctx.set` of the status,
- 1 awakeable, 1 object call (acquire: 1 get + 1 set), 1 object send (release: 2 gets, 1 clear),
- 2 `run_typed` steps (provision, health check 1), each raced against the deadline.

`python -m bench.harness bench.bare_app:app HOST:PORT` serves it with the hypercorn settings
`landlord-restate serve` uses for ours.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import restate

__all__ = ["app", "bare_lock", "bare_provisioning"]

bare_lock = restate.VirtualObject("BareLock")
bare_provisioning = restate.Workflow("BareProvisioning")


@bare_lock.handler()
async def acquire(ctx: restate.ObjectContext, holder: str) -> bool:
    """Like `TenantLock.acquire` when the tenant is free: one get, one set."""
    current = await ctx.get("holder", type_hint=str)
    if current is None or current == holder:
        ctx.set("holder", holder)
        return True
    return False


@bare_lock.handler()
async def release(ctx: restate.ObjectContext, releasing: str) -> None:
    """Like `TenantLock.release` with nobody waiting: two gets, one clear."""
    await ctx.get("queue", type_hint=list[str])
    if await ctx.get("holder", type_hint=str) == releasing:
        ctx.clear("holder")


async def _noop() -> dict[str, bool]:
    return {"exists": True, "healthy": True}


async def _record(ctx: restate.WorkflowContext, event: str) -> None:
    """A status event: a durable timestamp and a state write."""
    await ctx.time()
    ctx.set("status", {"event": event})


async def _step(
    ctx: restate.WorkflowContext, name: str, deadline: restate.RestateDurableFuture[Any]
) -> None:
    """A status write, then a durable step raced against the deadline."""
    ctx.set("status", {"step": name})
    future = ctx.run_typed(name, _noop)
    done, _ = await restate.wait_completed(future, deadline)
    if future not in done:
        raise restate.TerminalError("deadline", status_code=408)
    await future


@bare_provisioning.main()
async def run(ctx: restate.WorkflowContext, request: dict[str, Any]) -> dict[str, Any]:
    """The provision skeleton; returns a small result document."""
    tenant_id = str(request["tenant_id"])
    deadline = ctx.sleep(timedelta(minutes=30), name="deadline")
    await _record(ctx, "requested")
    ctx.awakeable(type_hint=bool)
    await ctx.object_call(acquire, key=tenant_id, arg=ctx.key())
    await _record(ctx, "provisioning")
    await _step(ctx, "provision mock", deadline)
    await _record(ctx, "step completed")
    await _step(ctx, "health check 1", deadline)
    await _record(ctx, "healthy")
    await _record(ctx, "ready")
    ctx.object_send(release, key=tenant_id, arg=ctx.key())
    return {"tenant_id": tenant_id, "operation": "provision", "phase": "ready"}


app = restate.app(services=[bare_provisioning, bare_lock])
