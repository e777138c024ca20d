"""`bench.bare_app:app`: bare-5, the bare-Restate baseline of `bench/provision.py`.

A workflow whose run does 5 no-op durable steps (`ctx.run_typed`), each followed by one
`ctx.set`, and returns a small document: what a provisioning saga costs in Restate with no
real work. It is deliberately not a replica of the tenant workflow's own operations, so that
the ratio real/bare shows everything the tenant workflow adds: its journal as well as its code.

`python -m bench.harness bench.bare_app:app HOST:PORT` serves it with the hypercorn settings
`landlord-restate serve` uses for ours.
"""

from __future__ import annotations

from typing import Any

import restate

__all__ = ["BARE_SERVICE", "STEPS", "app", "bare_provisioning"]

BARE_SERVICE = "BareProvisioning"
STEPS = 5

bare_provisioning = restate.Workflow(BARE_SERVICE)


async def _noop() -> bool:
    return True


@bare_provisioning.main()
async def run(ctx: restate.WorkflowContext, request: dict[str, Any]) -> dict[str, Any]:
    """Five no-op steps, each followed by a state write; returns a small result document."""
    for step in range(1, STEPS + 1):
        await ctx.run_typed(f"step {step}", _noop)
        ctx.set("status", {"steps_done": step})
    return {"tenant_id": request.get("tenant_id"), "phase": "ready"}


app = restate.app(services=[bare_provisioning])
