"""`ExecutionDeadline`: the deadline of any workflow execution, kept by Restate.

The provider starts one with each execution, keyed by the execution's invocation id. It waits
for the execution to end or for the timeout; if the timeout comes first it cancels the
execution (its compensations, if it has any, run) and marks that it did, which is how the
provider tells a timed-out execution from a cancelled one. It works for workflows that know
nothing of deadlines, whatever their input.

Unlike the definitions and the tenant locks, it is still public: the provider starts it through
the ingress, right after the execution, because nothing in the admin API can start an
invocation. So whoever reaches the ingress could ask it to cancel an execution early. Keep the
ingress behind the same boundary as the admin API until the deadline is started from inside
the deployment.
"""

from __future__ import annotations

import restate

from ..contract import (
    DEADLINE_FIRED_KEY,
    DEADLINE_HANDLER,
    DEADLINE_SERVICE,
    Deadline,
    format_duration,
)
from ..settings import services_settings

__all__ = ["Deadline", "execution_deadline", "watch"]

execution_deadline = restate.Workflow(
    DEADLINE_SERVICE,
    description="Cancels an execution that outlives its deadline (keyed by invocation id).",
    journal_retention=services_settings().retention,
)


@execution_deadline.main(name=DEADLINE_HANDLER, workflow_retention=services_settings().retention)
async def watch(ctx: restate.WorkflowContext, deadline: Deadline) -> bool:
    """True when the deadline passed first and the execution was cancelled."""
    ended: restate.RestateDurableFuture[object] = ctx.attach_invocation(deadline.invocation_id)
    timer = ctx.sleep(deadline.timeout, name="deadline")
    done, _ = await restate.wait_completed(ended, timer)
    if ended in done:
        return False
    ctx.set(DEADLINE_FIRED_KEY, format_duration(deadline.timeout))
    ctx.cancel_invocation(deadline.invocation_id)
    return True
