"""Workflows that put an invocation in each state RestateProvider maps, for
tests/integration/test_restate_provider.py, plus the definitions store the provider needs.

- `StatesMain` (and the spares `StatesSpare<n>`, `StatesPolicy`) run a script given as input:
  `{"sleep": seconds}` waits on a durable timer first (suspended meanwhile; only a cancel, a
  kill or the timer ends it), `{"fail": code, "message": text}` ends with that terminal error,
  `{"headers": true}` returns the `x-landlord-*` headers the start carried; anything else is
  echoed back as the output.
- `StatesBoom` raises a plain exception on every attempt: it stays backing-off.
- `StatesPause` does the same under a 2-attempt policy that pauses: it ends up paused.
- `StatesQueue` is a virtual object whose `hold` handler sleeps: a second call on the same key
  waits in its inbox (pending), and a workflow spec naming it is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import restate
from pydantic import JsonValue

from services.workflows import execution_deadline, workflow_definitions

SPARES = 9
SUSPEND_AFTER = timedelta(milliseconds=200)
"""How soon an invocation waiting on a timer is suspended (Restate's default is 1 min)."""


async def scripted(ctx: restate.WorkflowContext, payload: JsonValue) -> JsonValue:
    """Sleep and/or fail as the input says, else return the input."""
    if isinstance(payload, dict):
        seconds = payload.get("sleep")
        if isinstance(seconds, int | float):
            await ctx.sleep(timedelta(seconds=seconds), name="nap")
        code = payload.get("fail")
        if isinstance(code, int):
            raise restate.TerminalError(str(payload.get("message", "scripted failure")), code)
    await ctx.run_typed("echo", lambda: None)
    if isinstance(payload, dict) and payload.get("headers") is True:
        headers = ctx.request().headers
        return {name: value for name, value in headers.items() if name.startswith("x-landlord-")}
    return payload


async def boom(ctx: restate.WorkflowContext, payload: JsonValue) -> JsonValue:
    """Fail with a retryable (non-terminal) error on every attempt."""
    raise RuntimeError("boom: this handler always fails")


Handler = Callable[[restate.WorkflowContext, JsonValue], Awaitable[JsonValue]]


def _workflow(
    name: str, run: Handler, policy: restate.InvocationRetryPolicy | None = None
) -> restate.Workflow:
    """A workflow `name` whose `run` handler is `run`."""
    workflow = restate.Workflow(
        name, inactivity_timeout=SUSPEND_AFTER, invocation_retry_policy=policy
    )
    workflow.main(name="run")(run)
    return workflow


states_main = _workflow("StatesMain", scripted)
states_policy = _workflow("StatesPolicy", scripted)
spares = [_workflow(f"StatesSpare{index}", scripted) for index in range(SPARES)]
states_boom = _workflow(
    "StatesBoom",
    boom,
    restate.InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        exponentiation_factor=2.0,
        max_interval=timedelta(seconds=2),
        max_attempts=10_000,
        on_max_attempts="kill",
    ),
)
states_pause = _workflow(
    "StatesPause",
    boom,
    restate.InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=50),
        max_attempts=2,
        on_max_attempts="pause",
    ),
)

states_queue = restate.VirtualObject("StatesQueue")


@states_queue.handler()
async def hold(ctx: restate.ObjectContext, seconds: float) -> float:
    """Hold the key for `seconds` (a durable timer); later calls on the key wait in line."""
    await ctx.sleep(timedelta(seconds=seconds))
    return seconds


app = restate.app(
    services=[
        states_main,
        states_policy,
        *spares,
        states_boom,
        states_pause,
        states_queue,
        workflow_definitions,
        execution_deadline,
    ]
)
