"""One tenant operation run as a saga under a deadline, holding the tenant's lock.

`TenantOperation.run` ties the parts together: hold the tenant (which records the request),
run the operation's steps, and map how it ended to the workflow's outcome; a run that ends
well ends at its last step's time. A terminal failure, a cancel or the deadline all unwind the
saga, then end the workflow with a terminal error whose code says which it was: 500/4xx
failed, 409 cancelled, 408 timed out.
"""

from __future__ import annotations

from datetime import timedelta

import restate
from pydantic import JsonValue
from restate.server_context import DisconnectedException

from telemetry.logs import get_logger

from ... import metrics
from ...compute import ComputeBackend, TenantRef
from ...contract import (
    CANCELLED_CODE,
    TENANT_WORKFLOW_ID,
    TIMED_OUT_CODE,
    Operation,
    ProvisionRequest,
    ProvisionResult,
    RetryPolicy,
    TenantPhase,
)
from ...secrets import RunSecrets
from .live_status import LiveStatus, Outcome
from .operations import STEPS_TOTAL, Operations
from .saga import Saga
from .steps import DeadlineError, Steps, is_cancellation
from .tenant_hold import TenantHold

__all__ = ["TenantOperation"]

_START_PHASE = {
    Operation.PLAN: TenantPhase.PLANNING,
    Operation.PROVISION: TenantPhase.PROVISIONING,
    Operation.UPDATE: TenantPhase.UPDATING,
    Operation.DELETE: TenantPhase.DELETING,
}
_END_PHASE = {
    Operation.PLAN: TenantPhase.PLANNING,
    Operation.PROVISION: TenantPhase.READY,
    Operation.UPDATE: TenantPhase.READY,
    Operation.DELETE: TenantPhase.ARCHIVED,
}


class TenantOperation:
    """Runs one `ProvisionRequest` inside a `TenantProvisioning` workflow invocation."""

    def __init__(
        self,
        ctx: restate.WorkflowContext,
        request: ProvisionRequest,
        *,
        backend: ComputeBackend,
        config: dict[str, JsonValue],
        secrets: RunSecrets,
        timeout: timedelta,
        retry_policy: RetryPolicy,
        lock_grace: timedelta,
    ) -> None:
        self.request = request
        self.timeout = timeout
        self.secrets = secrets
        log = get_logger("landlord.services.tenant").bind(
            workflow_id=TENANT_WORKFLOW_ID,
            execution_id=ctx.request().id,
            execution_name=ctx.key(),
            tenant_id=request.tenant_id,
            operation=request.operation.value,
        )
        self.steps = Steps(ctx, timeout=timeout, retry_policy=retry_policy, log=log)
        self.live = LiveStatus(
            self.steps, request, steps_total=STEPS_TOTAL[request.operation], log=log
        )
        self.hold = TenantHold(
            self.steps, request.tenant_id, grace=lock_grace, operation=request.operation.value
        )
        self.saga = Saga()
        self.operations = Operations(
            self.steps,
            self.live,
            self.saga,
            backend=backend,
            tenant=TenantRef(tenant_id=request.tenant_id, tenant_uuid=request.tenant_uuid),
            config=config,
            secrets=secrets,
            health_timeout=request.health_timeout,
        )

    async def run(self) -> ProvisionResult:
        """Run the operation; raise a terminal error after compensating if it cannot finish."""
        operation = self.request.operation
        if metrics.live():
            metrics.OPERATIONS_STARTED.labels(operation=operation.value).inc()
        try:
            held_at = await self.hold.acquire(self.live, self.timeout)
            await self.live.transition(_START_PHASE[operation], at=held_at)
            state, plan = await self.operations.run(operation)
        except DeadlineError as exceeded:
            message = f"timed out after {self.timeout} during {exceeded.activity}"
            raise await self._end_badly(
                "timed_out",
                restate.TerminalError(message, TIMED_OUT_CODE, {"outcome": "timed_out"}),
            ) from None
        except restate.TerminalError as error:
            if is_cancellation(error):
                step = self.live.status.step or "start"
                raise await self._end_badly(
                    "cancelled",
                    restate.TerminalError(
                        f"cancelled during {step}", CANCELLED_CODE, {"outcome": "cancelled"}
                    ),
                ) from None
            raise await self._end_badly("failed", error) from None
        except DisconnectedException:
            # Restate went away (a node died, a partition moved): this attempt is over and
            # Restate retries it from the journal. Compensating here would undo real work in
            # an attempt whose steps can no longer be journaled.
            raise
        except Exception as error:  # a defect: fail terminally (after compensating), never loop
            raise await self._end_badly(
                "failed", restate.TerminalError(f"internal error: {error!r}", 500)
            ) from error
        self.steps.ending = True  # the work is done: a stop that lands from here on changes nothing
        await self.live.end(_END_PHASE[operation], "succeeded", at=self.live.last_at)
        self._count_end("succeeded")
        self.hold.release()
        return ProvisionResult(
            tenant_id=self.request.tenant_id,
            operation=operation,
            phase=self.live.status.phase,
            observed_config=self.secrets.masked(state.config),
            resource_ids=state.resource_ids,
            endpoints=state.endpoints,
            plan=plan,
        )

    async def _end_badly(
        self, outcome: Outcome, error: restate.TerminalError
    ) -> restate.TerminalError:
        """Unwind the saga, record the failure, free the tenant; the error to end with."""
        self.steps.ending = True
        await self.saga.unwind(self.steps, self.live, self.hold)
        await self.live.end(TenantPhase.FAILED, outcome, error.message, at=await self.steps.now())
        self._count_end(outcome)
        self.hold.release()
        return error

    def _count_end(self, outcome: Outcome) -> None:
        """Count how the operation ended, once (a replay of the end counts nothing)."""
        if metrics.live():
            metrics.OPERATIONS_ENDED.labels(
                operation=self.request.operation.value, outcome=outcome
            ).inc()
