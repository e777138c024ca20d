"""`bench.bare_app:app`: bare-5, the bare-Restate baseline of `bench/provision.py`.

A workflow whose run does 5 no-op durable steps (`ctx.run_typed`), each followed by one
`ctx.set`, and returns a small document: what a provisioning saga costs in Restate with no
real work. It is deliberately not a replica of the tenant workflow's own operations, so that
the ratio real/bare shows everything the tenant workflow adds: its journal as well as its code.

`BareKeyed` is bare-5 that first calls a no-op handler of an object keyed by the tenant
(`BareTenant/take`): the least that holding a tenant through any Restate object adds.
`BareObject/run` is bare-5 run as the exclusive handler of an object keyed by the tenant (the
caller sends an idempotency key per operation): what holding the tenant costs when Restate's
own one-invocation-per-key is the lock.

`python -m bench.harness bench.bare_app:app HOST:PORT` serves it with the hypercorn settings
`landlord-restate serve` uses for ours.
"""

from __future__ import annotations

from typing import Any

import restate

__all__ = [
    "BARE_KEYED_SERVICE",
    "BARE_OBJECT_SERVICE",
    "BARE_SERVICE",
    "BARE_TENANT_SERVICE",
    "STEPS",
    "app",
    "bare_keyed",
    "bare_object",
    "bare_provisioning",
    "bare_tenant",
]

BARE_SERVICE = "BareProvisioning"
BARE_KEYED_SERVICE = "BareKeyed"
BARE_TENANT_SERVICE = "BareTenant"
BARE_OBJECT_SERVICE = "BareObject"
STEPS = 5

bare_provisioning = restate.Workflow(BARE_SERVICE)
bare_keyed = restate.Workflow(BARE_KEYED_SERVICE)
bare_tenant = restate.VirtualObject(BARE_TENANT_SERVICE)
bare_object = restate.VirtualObject(BARE_OBJECT_SERVICE)


async def _noop() -> bool:
    return True


async def _bare_5(ctx: restate.ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
    """Five no-op steps, each followed by a state write; a small result document."""
    for step in range(1, STEPS + 1):
        await ctx.run_typed(f"step {step}", _noop)
        ctx.set("status", {"steps_done": step})
    return {"tenant_id": request.get("tenant_id"), "phase": "ready"}


@bare_provisioning.main()
async def run(ctx: restate.WorkflowContext, request: dict[str, Any]) -> dict[str, Any]:
    """Bare-5."""
    return await _bare_5(ctx, request)


@bare_tenant.handler()
async def take(ctx: restate.ObjectContext, holder: str) -> bool:
    """Nothing but an exclusive turn on the tenant's key."""
    return True


@bare_keyed.main(name="run")
async def keyed(ctx: restate.WorkflowContext, request: dict[str, Any]) -> dict[str, Any]:
    """One call to the tenant's object, then bare-5."""
    await ctx.object_call(take, key=str(request.get("tenant_id")), arg=ctx.key())
    return await _bare_5(ctx, request)


@bare_object.handler(name="run")
async def owned(ctx: restate.ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
    """Bare-5, holding the tenant's key for the whole run."""
    return await _bare_5(ctx, request)


app = restate.app(services=[bare_provisioning, bare_keyed, bare_tenant, bare_object])
