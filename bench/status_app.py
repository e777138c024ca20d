"""`bench.status_app:app`: the deployment `bench/status.py` measures the provider against.

`Echo`, a Workflow whose `run` returns its input (no steps, no state), so that what the bench
times is the provider's start and status path and Restate's own work, not handler code;
`Hold`, a Workflow that waits for a promise nobody resolves (executions in flight); and the
services the provider needs (`WorkflowDefinitions`, `ExecutionDeadline`) plus the tenant
workflow and its lock, whose status polls are counted.

`python -m bench.harness bench.status_app:app HOST:PORT` serves it with the hypercorn settings
`landlord-restate serve` uses for ours (until SIGTERM or SIGINT).
"""

from __future__ import annotations

from typing import Any

import restate

from services.workflows import (
    execution_deadline,
    tenant_lock,
    tenant_provisioning,
    workflow_definitions,
)

__all__ = ["app", "echo", "hold"]

echo = restate.Workflow("Echo")
hold = restate.Workflow("Hold")


@echo.main()
async def run(ctx: restate.WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Return the input unchanged: the cheapest workflow Restate can run."""
    return payload


@hold.main(name="run")
async def wait(ctx: restate.WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Stay in flight until the promise `release` is resolved."""
    await ctx.promise("release", type_hint=bool).value()
    return payload


app = restate.app(
    services=[
        echo,
        hold,
        workflow_definitions,
        execution_deadline,
        tenant_provisioning,
        tenant_lock,
    ]
)
