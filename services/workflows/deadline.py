"""`ExecutionDeadline`: the deadline of any workflow execution, kept by Restate.

The provider sends one with each execution, keyed by the execution's invocation id and
delayed by its timeout: until then it is only a scheduled invocation, costing neither the
deployment nor Restate's invoker anything. When it runs it looks whether the execution has
ended (attach answers at once for one that has); if it still runs, it marks that the deadline
fired, which is how the provider tells a timed-out execution from a cancelled one, and cancels
it (its compensations, if it has any, run). It works for workflows that know nothing of
deadlines, whatever their input.

Unlike the definitions and the tenant locks, it is still public: the provider starts it through
the ingress, right after the execution, because nothing in the admin API can start an
invocation. So whoever reaches the ingress could ask it to cancel an execution early. Keep the
ingress behind the same boundary as the admin API until the deadline is started from inside
the deployment.
"""

from __future__ import annotations

from datetime import timedelta

import restate

from ..contract import (
    DEADLINE_FIRED_KEY,
    DEADLINE_HANDLER,
    DEADLINE_SERVICE,
    Deadline,
    format_duration,
)
from ..settings import services_settings

__all__ = ["LOOK_WITHIN", "Deadline", "execution_deadline", "watch"]

LOOK_WITHIN = timedelta(seconds=1)
"""How long attaching may take to say the execution has ended (it answers at once for one
that has): past this, it still runs and is cancelled."""

execution_deadline = restate.Workflow(
    DEADLINE_SERVICE,
    description="Cancels an execution that outlives its deadline (keyed by invocation id).",
    journal_retention=services_settings().retention,
)


@execution_deadline.main(name=DEADLINE_HANDLER, workflow_retention=services_settings().retention)
async def watch(ctx: restate.WorkflowContext, deadline: Deadline) -> bool:
    """Run at the deadline: True when the execution was still running and was cancelled."""
    ended: restate.RestateDurableFuture[object] = ctx.attach_invocation(deadline.invocation_id)
    look = ctx.sleep(LOOK_WITHIN, name="still running?")
    done, _ = await restate.wait_completed(ended, look)
    if ended in done:
        return False
    ctx.set(DEADLINE_FIRED_KEY, format_duration(deadline.timeout))
    ctx.cancel_invocation(deadline.invocation_id)
    return True
