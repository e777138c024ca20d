"""Tiny workflows for running the provider contract suite on Restate, plus the definitions
store and the state machine workflow (for ASL definitions) the provider needs:
`ContractEcho<n>` return their input at once; `ContractWait<n>` run until cancelled. A Restate
service belongs to one landlord workflow, and the suite creates a fresh workflow per test,
hence a pool of each."""

from __future__ import annotations

import restate
from pydantic import JsonValue

from services.workflows import (
    execution_deadline,
    state_machine,
    state_machine_branch,
    workflow_definitions,
)

POOL = 64


async def echo_run(ctx: restate.WorkflowContext, payload: JsonValue) -> JsonValue:
    """Succeed with the input."""
    return payload


async def wait_run(ctx: restate.WorkflowContext, payload: JsonValue) -> JsonValue:
    """Wait for a promise nobody resolves: only a cancel ends it."""
    await ctx.promise("release", type_hint=bool).value()
    return payload


def _pool(prefix: str, run: object) -> list[restate.Workflow]:
    workflows = []
    for index in range(POOL):
        workflow = restate.Workflow(f"{prefix}{index}")
        workflow.main(name="run")(run)
        workflows.append(workflow)
    return workflows


app = restate.app(
    services=[
        *_pool("ContractEcho", echo_run),
        *_pool("ContractWait", wait_run),
        workflow_definitions,
        execution_deadline,
        state_machine,
        state_machine_branch,
    ]
)
