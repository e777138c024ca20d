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
import signal
import sys
from typing import Any

import hypercorn.asyncio
import restate
from restate.server import install_shutdown_hook

from services.serving import hypercorn_config
from services.workflows.definitions import workflow_definitions

__all__ = ["app", "echo"]

echo = restate.Workflow("Echo")


@echo.main()
async def run(ctx: restate.WorkflowContext, payload: dict[str, Any]) -> dict[str, Any]:
    """Return the input unchanged: the cheapest workflow Restate can run."""
    return payload


app = restate.app(services=[echo, workflow_definitions])


async def _serve(bind: str) -> None:
    """Serve `app` until SIGTERM or SIGINT, with the production hypercorn settings."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # The SDK's app claims SIGTERM on its first request: join its hooks rather than be replaced.
    install_shutdown_hook(loop, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    config = hypercorn_config(bind=bind, app="bench.adapter_app:app")
    await hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1]))
