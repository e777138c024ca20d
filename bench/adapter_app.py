"""`bench.adapter_app:app`: the deployment `bench/adapter.py` measures the provider against.

It serves a trivial Workflow, `Echo`, whose `run` returns its input (no steps, no state), so
that what `bench/adapter.py` times is the provider's start and status path and Restate's
own work, not handler code; and `WorkflowDefinitions`, which `RestateProvider` needs to store
the workflow spec (`create_workflow`) and read it back (`start_execution`).

`python -m bench.adapter_app HOST:PORT` serves it the way `landlord-restate serve` serves ours
(hypercorn in this process, production settings, until SIGTERM or SIGINT).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import restate

from services.serving import hypercorn_config, serve_until_signalled
from services.workflows import execution_deadline, workflow_definitions

__all__ = ["app", "echo"]

echo = restate.Workflow("Echo")


@echo.main()
async def run(ctx: restate.WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Return the input unchanged: the cheapest workflow Restate can run."""
    return payload


app = restate.app(services=[echo, workflow_definitions, execution_deadline])


if __name__ == "__main__":
    asyncio.run(
        serve_until_signalled(app, hypercorn_config(bind=sys.argv[1], app="bench.adapter_app:app"))
    )
