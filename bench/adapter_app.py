"""`bench.adapter_app:app`: the deployment `bench/adapter.py` measures the provider against.

It serves a trivial Workflow, `Echo`, whose `run` returns its input (no steps, no state), so
that what `bench/adapter.py` times is the provider's start and status path and Restate's
own work, not handler code; and `WorkflowDefinitions`, which `RestateProvider` needs to store
the workflow spec (`create_workflow`) and read it back (`start_execution`).

`python -m bench.harness bench.adapter_app:app HOST:PORT` serves it with the hypercorn settings
`landlord-restate serve` uses for ours (until SIGTERM or SIGINT).
"""

from __future__ import annotations

from typing import Any

import restate

from services.workflows import execution_deadline, workflow_definitions

__all__ = ["app", "echo"]

echo = restate.Workflow("Echo")


@echo.main()
async def run(ctx: restate.WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Return the input unchanged: the cheapest workflow Restate can run."""
    return payload


app = restate.app(services=[echo, workflow_definitions, execution_deadline])
