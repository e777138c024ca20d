"""`StateMachine`: any landlord workflow written in Amazon States Language, run durably. The
control plane starts it keyed `<workflow id>.<execution name>`, with the definition bound to
the execution (`MachineRun`); `status` reports the state it is in and its history, named as
Step Functions names it. `StateMachineBranch` (private) runs one `Parallel` branch or `Map`
iteration. A machine that ends on an ASL error ends with the terminal error
`<Error>: <Cause>`."""

from __future__ import annotations

import json

import restate
from pydantic import JsonValue

import asl

from ..contract import (
    INVALID_REQUEST_CODE,
    MAX_INPUT_BYTES,
    STATE_MACHINE_BRANCH_SERVICE,
    STATE_MACHINE_HANDLER,
    STATE_MACHINE_SERVICE,
    STATUS_HANDLER,
    STATUS_STATE_KEY,
    MachineRun,
    MachineStatus,
    split_machine_key,
    states_failure,
)
from ..settings import services_settings
from ..tracing import run_span
from .machine_runtime import RestateRuntime
from .retries import INVOCATION_RETRIES

__all__ = ["branch", "run", "state_machine", "state_machine_branch", "status"]

state_machine = restate.Workflow(
    STATE_MACHINE_SERVICE,
    description="Runs a landlord workflow written in Amazon States Language.",
    journal_retention=services_settings().retention,
    invocation_retry_policy=INVOCATION_RETRIES,
)
state_machine_branch = restate.Service(
    STATE_MACHINE_BRANCH_SERVICE,
    description="Runs one Parallel branch or Map iteration of a StateMachine.",
    ingress_private=True,
    invocation_retry_policy=INVOCATION_RETRIES,
)


def _checked(request: MachineRun) -> None:
    """Refuse (terminal, 400) a definition that breaks the specification or an input over
    the limit; the control plane checks both before it starts, so this is for a hand start."""
    try:
        asl.check(request.definition)
    except asl.DefinitionError as error:
        raise restate.TerminalError(
            f"definition.{error}", status_code=INVALID_REQUEST_CODE
        ) from None
    size = len(json.dumps(request.input, separators=(",", ":")))
    if size > MAX_INPUT_BYTES:
        raise restate.TerminalError(
            f"input is {size} bytes; the limit is {MAX_INPUT_BYTES}",
            status_code=INVALID_REQUEST_CODE,
        )


async def _run(request: MachineRun, execution: asl.Execution, runtime: RestateRuntime) -> JsonValue:
    """The machine's output; its ASL error ends the invocation with `<Error>: <Cause>`."""
    try:
        output: JsonValue = await asl.execute(
            request.definition, request.input, runtime=runtime, execution=execution
        )
    except asl.StatesError as error:
        runtime.record("ExecutionFailed", None, error=error.error)
        runtime.flush()
        raise restate.TerminalError(states_failure(error.error, error.cause)) from None
    runtime.record("ExecutionSucceeded", None)
    runtime.flush()
    return output


@state_machine.main(name=STATE_MACHINE_HANDLER, workflow_retention=services_settings().retention)
async def run(ctx: restate.WorkflowContext, request: MachineRun) -> JsonValue:
    """Run the machine on its input to its end (traced): its output, or its ASL error."""
    workflow_id, name = split_machine_key(ctx.key())
    with run_span("state_machine.run", ctx, workflow_id=workflow_id, execution_name=name):
        _checked(request)
        started = await ctx.time()
        runtime = RestateRuntime(
            ctx,
            started=started,
            keep=lambda status: ctx.set(STATUS_STATE_KEY, status.model_dump(mode="json")),
        )
        execution = asl.Execution(
            name=name,
            input=request.input,
            start_time=asl.format_timestamp(runtime.now()),
            state_machine=workflow_id,
        )
        runtime.record("ExecutionStarted", None)
        return await _run(request, execution, runtime)


@state_machine.handler(name=STATUS_HANDLER)
async def status(ctx: restate.WorkflowSharedContext) -> MachineStatus:
    """Live status: the state the machine is in, and its history so far."""
    return await ctx.get(STATUS_STATE_KEY, type_hint=MachineStatus) or MachineStatus()


@state_machine_branch.handler(name=STATE_MACHINE_HANDLER)
async def branch(ctx: restate.Context, request: MachineRun) -> JsonValue:
    """Run one branch (or iteration) of a machine: its output, or its ASL error."""
    given = request.execution
    if given is None:
        raise restate.TerminalError(
            "a branch needs its execution", status_code=INVALID_REQUEST_CODE
        )
    runtime = RestateRuntime(ctx, started=await ctx.time())
    execution = asl.Execution(
        name=given.name,
        input=given.input,
        start_time=given.start_time,
        state_machine=given.state_machine,
    )
    return await _run(request, execution, runtime)
