"""One tenant operation run as a saga under a deadline, holding the tenant's lock.

Each side effect is a named durable step whose compensation is registered before it runs.
A terminal failure, a cancel or the deadline all unwind the saga, then end the workflow with a
terminal error whose code says which it was: 500/4xx failed, 409 cancelled, 408 timed out.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, ParamSpec, TypeVar

import httpx
import restate
from pydantic import BaseModel, JsonValue
from restate.server_context import DisconnectedException

from telemetry.logs import REDACTED, get_logger

from ..compute import ComputeBackend, ComputeRejectedError, ComputeState, TenantRef
from ..contract import (
    CANCELLED_CODE,
    REJECTED_CODE,
    TENANT_WORKFLOW_ID,
    TIMED_OUT_CODE,
    Operation,
    PlannedChange,
    ProvisionRequest,
    ProvisionResult,
    RetryPolicy,
    StatusEvent,
    TenantPhase,
    TenantStatus,
)
from ..saga import Saga
from .tenant_lock import LockRequest, Renewal, acquire, release, renew

__all__ = [
    "TenantOperation",
    "is_cancellation",
    "redacted",
]

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")
P = ParamSpec("P")

STATUS_KEY = "status"
_COMPENSATION_OPTIONS: restate.RunOptions[Any] = restate.RunOptions(
    max_attempts=10,
    initial_retry_interval=timedelta(milliseconds=500),
    max_retry_interval=timedelta(seconds=10),
)
_CALLBACK_OPTIONS: restate.RunOptions[Any] = restate.RunOptions(
    max_attempts=6,
    initial_retry_interval=timedelta(milliseconds=500),
    max_retry_interval=timedelta(seconds=10),
)
_COMPENSATION_LEASE = timedelta(minutes=2)
"""How long one compensation may hold the tenant past its start (its retries' whole budget)."""
_HEALTH_FIRST_INTERVAL = timedelta(milliseconds=250)
_HEALTH_MAX_INTERVAL = timedelta(seconds=2)
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
_STEPS_TOTAL = {Operation.PLAN: 1, Operation.PROVISION: 2, Operation.UPDATE: 3, Operation.DELETE: 1}


def redacted(config: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """The config as it may be shown (plan, result, status): `env` values are masked."""
    env = config.get("env")
    if not isinstance(env, dict):
        return config
    return {**config, "env": {name: REDACTED for name in env}}


def is_cancellation(error: BaseException) -> bool:
    """Whether Restate raised this because the invocation was cancelled."""
    return (
        isinstance(error, restate.TerminalError)
        and error.status_code == CANCELLED_CODE
        and error.message == "cancelled"
    )


class _DeadlineError(Exception):
    """The workflow's durable deadline timer fired during `activity`."""

    def __init__(self, activity: str) -> None:
        self.activity = activity
        super().__init__(activity)


def _terminal(action: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Make a backend's permanent refusal terminal (no retries); other errors stay retryable."""

    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await action(*args, **kwargs)
        except ComputeRejectedError as error:
            raise restate.TerminalError(str(error), status_code=REJECTED_CODE) from error

    return guarded


async def _post_transition(url: str, body: dict[str, JsonValue], key: str) -> None:
    """POST one transition to the control plane; 4xx other than 408/429 is final."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(url, json=body, headers={"Idempotency-Key": key})
    if response.status_code in (408, 429) or response.status_code >= 500:
        raise RuntimeError(f"callback answered {response.status_code}")
    if response.status_code >= 400:
        raise restate.TerminalError(f"callback refused with {response.status_code}", 400)


class TenantOperation:
    """Runs one `ProvisionRequest` inside a `TenantProvisioning` workflow invocation."""

    def __init__(
        self,
        ctx: restate.WorkflowContext,
        request: ProvisionRequest,
        *,
        backend: ComputeBackend,
        config: dict[str, JsonValue],
        timeout: timedelta,
        retry_policy: RetryPolicy,
        lock_grace: timedelta,
    ) -> None:
        self.ctx = ctx
        self.request = request
        self.backend = backend
        self.config = config
        self.timeout = timeout
        self.lock_grace = lock_grace
        self.ending = False
        """Set once the run is on its way out: from then on a stop changes nothing."""
        self.tenant = TenantRef(tenant_id=request.tenant_id, tenant_uuid=request.tenant_uuid)
        self.key = ctx.key()
        self.saga = Saga()
        self.status = TenantStatus(
            tenant_id=request.tenant_id,
            operation=request.operation,
            steps_total=_STEPS_TOTAL[request.operation],
        )
        policy = retry_policy
        self.step_options: restate.RunOptions[Any] = restate.RunOptions(
            max_attempts=policy.max_attempts,
            initial_retry_interval=policy.initial_interval,
            retry_interval_factor=policy.backoff_rate,
            max_retry_interval=policy.max_interval,
        )
        self.deadline = ctx.sleep(timeout, name="deadline")
        self.in_flight: restate.RestateDurableFuture[Any] | None = None
        self.log = get_logger("landlord.services.tenant").bind(
            workflow_id=TENANT_WORKFLOW_ID,
            execution_id=self.key,
            tenant_id=request.tenant_id,
            operation=request.operation.value,
        )

    # -- status -------------------------------------------------------------------------

    async def _await(self, future: restate.RestateDurableFuture[R]) -> R:
        """Await a journaled future. Once the run is ending, a stop that lands meanwhile (a
        repeated stop, or the first one after a failure) is absorbed: it cannot change an
        outcome already decided, and must not cut the unwinding short."""
        while self.ending:
            try:
                await restate.wait_completed(future)
            except restate.TerminalError as error:
                if not is_cancellation(error):
                    raise
                self.log.info("stop ignored: the operation is already ending")
            else:
                break
        return await future

    async def _now(self) -> datetime:
        return datetime.fromtimestamp(await self._await(self.ctx.time()), UTC)

    async def _record(
        self, type_: str, message: str = "", *, notify: bool = False, level: str = "info"
    ) -> None:
        """Append a timestamped event, publish the status, and (for transitions) call back."""
        event = StatusEvent(
            at=await self._now(),
            type=type_,
            phase=self.status.phase,
            step=self.status.step,
            message=message,
        )
        self.status.events.append(event)
        self.ctx.set(STATUS_KEY, self.status)
        self.log.log(
            logging.getLevelNamesMapping()[level.upper()],
            type_,
            phase=self.status.phase.value,
            step=self.status.step,
            detail=message,
        )
        if notify and self.request.api_base_url is not None:
            await self._notify(event)

    async def _transition(self, phase: TenantPhase, message: str = "") -> None:
        self.status.phase = phase
        await self._record("transition", message, notify=True)

    async def _notify(self, event: StatusEvent) -> None:
        """Tell the control plane, durably: retried, journaled, deduplicated by key."""
        sequence = len(self.status.events)
        body: dict[str, JsonValue] = {
            "tenant_id": self.request.tenant_id,
            "tenant_uuid": self.request.tenant_uuid,
            "execution": self.key,
            "operation": self.request.operation.value,
            "sequence": sequence,
            "event": json.loads(event.model_dump_json()),
        }
        try:
            await self._await(
                self.ctx.run_typed(
                    f"notify {event.phase.value}",
                    _post_transition,
                    _CALLBACK_OPTIONS,
                    str(self.request.api_base_url),
                    body,
                    f"{self.key}:{sequence}",
                )
            )
        except restate.TerminalError as error:
            if is_cancellation(error):
                raise
            self.log.warning("callback failed", error=error.message)

    # -- steps ---------------------------------------------------------------------------

    async def _step(
        self,
        name: str,
        action: Callable[..., Awaitable[T]],
        *args: Any,
        result: type[T],
        undo: Callable[[], Coroutine[Any, Any, None]] | None = None,
        counts: bool = True,
    ) -> T:
        """Run `action` as the durable step `name`, racing the deadline; `undo` is registered
        first. A step that exhausts its retries fails the workflow with its name."""
        if undo is not None:
            self.saga.register(name, undo)
        self.status.step = name
        self.ctx.set(STATUS_KEY, self.status)
        options: restate.RunOptions[T] = restate.RunOptions(
            type_hint=result,
            max_attempts=self.step_options.max_attempts,
            initial_retry_interval=self.step_options.initial_retry_interval,
            retry_interval_factor=self.step_options.retry_interval_factor,
            max_retry_interval=self.step_options.max_retry_interval,
        )
        future = self.ctx.run_typed(name, _terminal(action), options, *args)
        self.in_flight = future
        done, _ = await restate.wait_completed(future, self.deadline)
        if future not in done:
            raise _DeadlineError(f"step {name!r}")
        self.in_flight = None
        try:
            value: T = await future
        except restate.TerminalError as error:
            if is_cancellation(error):
                raise
            raise restate.TerminalError(
                f"step {name!r} failed: {error.message}",
                status_code=error.status_code if 400 <= error.status_code < 500 else 500,
                metadata={"step": name, "outcome": "failed"},
            ) from error
        if counts:
            self.status.steps_done += 1
            await self._record("step completed")
        return value

    async def _settle_in_flight(self) -> None:
        """Let a step that was running when the deadline or a cancel came finish first, so its
        compensation never races it."""
        future, self.in_flight = self.in_flight, None
        if future is None:
            return
        with contextlib.suppress(restate.TerminalError):
            await self._await(future)

    async def _sleep(self, delay: timedelta, activity: str) -> None:
        """A durable sleep that gives way to the deadline."""
        done, _ = await restate.wait_completed(self.ctx.sleep(delay), self.deadline)
        if self.deadline in done:
            raise _DeadlineError(activity)

    async def _wait_healthy(self) -> ComputeState:
        """Poll the backend (each poll a durable step) until healthy or `health_timeout`."""
        waited, interval, checks = timedelta(0), _HEALTH_FIRST_INTERVAL, 0
        state = ComputeState(exists=False)
        while True:
            checks += 1
            state = await self._step(
                f"health check {checks}",
                self.backend.status,
                self.tenant,
                result=ComputeState,
                counts=False,
            )
            if state.healthy:
                self.status.steps_done += 1
                await self._record("healthy", state.detail)
                return state
            if waited >= self.request.health_timeout:
                raise restate.TerminalError(
                    f"step 'wait healthy' failed: not healthy after "
                    f"{self.request.health_timeout} ({state.detail or 'no detail'})",
                    status_code=500,
                    metadata={"step": "wait healthy", "outcome": "failed"},
                )
            await self._sleep(interval, "step 'wait healthy'")
            waited += interval
            interval = min(interval * 2, _HEALTH_MAX_INTERVAL)

    # -- operations ----------------------------------------------------------------------

    def _plan(self, current: ComputeState) -> list[PlannedChange]:
        """What applying the desired config to `current` would change (no side effects)."""
        if not current.exists:
            return [
                PlannedChange(action="create", resource="compute", detail=redacted(self.config))
            ]
        before, after = redacted(current.config), redacted(self.config)
        changed: dict[str, JsonValue] = {
            key: {"from": before.get(key), "to": after[key]}
            for key, value in self.config.items()
            if current.config.get(key) != value
        }
        return [
            PlannedChange(
                action="update" if changed else "keep", resource="compute", detail=changed
            )
        ]

    async def _observe(self) -> ComputeState:
        return await self._step("observe", self.backend.status, self.tenant, result=ComputeState)

    async def _do_plan(self) -> tuple[ComputeState, list[PlannedChange]]:
        current = await self._observe()
        return current, self._plan(current)

    async def _do_provision(self) -> tuple[ComputeState, list[PlannedChange]]:
        name = f"provision {self.backend.name}"
        await self._step(
            name,
            self.backend.provision,
            self.tenant,
            self.config,
            result=ComputeState,
            undo=functools.partial(self.backend.destroy, self.tenant),
        )
        return await self._wait_healthy(), [
            PlannedChange(action="create", resource="compute", detail=redacted(self.config))
        ]

    async def _do_update(self) -> tuple[ComputeState, list[PlannedChange]]:
        previous = await self._observe()
        plan = self._plan(previous)

        async def restore() -> None:
            if previous.exists:
                await self.backend.update(self.tenant, previous.config)
            else:
                await self.backend.destroy(self.tenant)

        await self._step(
            f"update {self.backend.name}",
            self.backend.update,
            self.tenant,
            self.config,
            result=ComputeState,
            undo=restore,
        )
        return await self._wait_healthy(), plan

    async def _do_delete(self) -> tuple[ComputeState, list[PlannedChange]]:
        await self._step(
            f"destroy {self.backend.name}",
            _destroyed(self.backend),
            self.tenant,
            result=ComputeState,
        )
        return ComputeState(exists=False), [PlannedChange(action="destroy", resource="compute")]

    # -- the whole run -------------------------------------------------------------------

    async def _acquire_tenant(self) -> None:
        """Hold the tenant, waiting in line behind earlier operations; the hold is a lease that
        ends at this run's deadline plus the grace, whatever becomes of this run. A wake-up
        with False (an operator freed the tenant) means: ask again."""
        lease_until = self.status.events[0].at + self.timeout + self.lock_grace
        waiting = False
        while True:
            awakeable_id, turn = self.ctx.awakeable(type_hint=bool)
            request = LockRequest(
                holder=self.key, awakeable_id=awakeable_id, lease_until=lease_until.timestamp()
            )
            if await self.ctx.object_call(acquire, key=self.request.tenant_id, arg=request):
                return
            if not waiting:
                waiting = True
                await self._record("waiting", "another operation on this tenant is in progress")
            done, _ = await restate.wait_completed(turn, self.deadline)
            if turn not in done:
                raise _DeadlineError("waiting for the tenant")
            if await turn:
                return

    def _release_tenant(self) -> None:
        self.ctx.object_send(release, key=self.request.tenant_id, arg=self.key)

    async def _keep_tenant(self, budget: timedelta) -> bool:
        """Extend the lease for `budget` more; False when it ran out and the tenant may already
        be another operation's (a run paused past its deadline and resumed)."""
        until = await self._now() + budget
        renewal = Renewal(holder=self.key, lease_until=until.timestamp())
        return await self._await(
            self.ctx.object_call(renew, key=self.request.tenant_id, arg=renewal)
        )

    async def _unwind(self) -> None:
        await self._settle_in_flight()
        for compensation in self.saga.unwind():
            self.status.step = f"compensate {compensation.step}"
            self.ctx.set(STATUS_KEY, self.status)
            if not await self._keep_tenant(self.lock_grace + _COMPENSATION_LEASE):
                await self._record(
                    "compensation skipped",
                    f"{compensation.step}: this run's hold on the tenant expired",
                    level="error",
                )
                continue
            try:
                await self._await(
                    self.ctx.run_typed(
                        f"compensate {compensation.step}", compensation.undo, _COMPENSATION_OPTIONS
                    )
                )
            except restate.TerminalError as error:
                await self._record("compensation failed", error.message, level="error")
            else:
                await self._record("compensated", compensation.step)

    async def _end_badly(
        self, outcome: Literal["failed", "cancelled", "timed_out"], error: restate.TerminalError
    ) -> restate.TerminalError:
        self.ending = True
        await self._unwind()
        self.status.outcome = outcome
        self.status.error = error.message
        self.status.step = None
        await self._transition(TenantPhase.FAILED, error.message)
        self._release_tenant()
        return error

    async def run(self) -> ProvisionResult:
        """Run the operation; raise a terminal error after compensating if it cannot finish."""
        operations = {
            Operation.PLAN: self._do_plan,
            Operation.PROVISION: self._do_provision,
            Operation.UPDATE: self._do_update,
            Operation.DELETE: self._do_delete,
        }
        try:
            await self._record("requested")
            await self._acquire_tenant()
            await self._transition(_START_PHASE[self.request.operation])
            state, plan = await operations[self.request.operation]()
        except _DeadlineError as exceeded:
            message = f"timed out after {self.timeout} during {exceeded.activity}"
            raise await self._end_badly(
                "timed_out",
                restate.TerminalError(message, TIMED_OUT_CODE, {"outcome": "timed_out"}),
            ) from None
        except restate.TerminalError as error:
            if is_cancellation(error):
                step = self.status.step or "start"
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
        self.ending = True  # the work is done: a stop that lands from here on changes nothing
        self.status.outcome = "succeeded"
        self.status.step = None
        await self._transition(_END_PHASE[self.request.operation])
        self._release_tenant()
        return ProvisionResult(
            tenant_id=self.request.tenant_id,
            operation=self.request.operation,
            phase=self.status.phase,
            observed_config=redacted(state.config),
            resource_ids=state.resource_ids,
            endpoints=state.endpoints,
            plan=plan,
        )


def _destroyed(backend: ComputeBackend) -> Callable[[TenantRef], Awaitable[ComputeState]]:
    async def destroy(tenant: TenantRef) -> ComputeState:
        await backend.destroy(tenant)
        return ComputeState(exists=False)

    return destroy
