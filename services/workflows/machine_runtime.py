"""`RestateRuntime`: the ASL interpreter's runtime on Restate. A Task is a durable step (its
outcome, success or ASL error, journaled once), a `restate:` Task a durable call, a Wait or a
retry's backoff a durable timer, each `Parallel` branch and `Map` iteration a call to the
private `StateMachineBranch` (their own journals, run concurrently), time and randomness taken
from the journal so that a replay computes the same."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import restate

import asl

from ..contract import (
    CANCELLED_CODE,
    STATE_MACHINE_BRANCH_SERVICE,
    STATE_MACHINE_HANDLER,
    MachineEvent,
    MachineExecution,
    MachineRun,
    MachineStatus,
    parse_states_failure,
)
from ..tracing import step_span

__all__ = ["RestateRuntime", "execution_of"]


class _Randomness:
    """`States.UUID`, `States.MathRandom` and jitter from Restate's seeded source."""

    def __init__(self, ctx: restate.Context) -> None:
        self.ctx = ctx

    def uuid4(self) -> str:
        return str(self.ctx.uuid())

    def randint(self, start: int, end: int) -> int:
        return self.ctx.random().randrange(start, end)


async def _attempt(
    state: str, resource: str, parameters: Any, timeout: float | None
) -> dict[str, Any]:
    """One call of an HTTP or Lambda resource by Task `state` (traced), its outcome as a journal
    value: the result, or the ASL error it ended with (a failure is an outcome too, so it is
    never re-run)."""
    known = asl.resource_of(resource)
    assert known is not None
    assert known.kind != "restate"
    with step_span(state):
        try:
            if known.kind == "http":
                result = await asl.call_http(parameters, timeout=timeout)
            else:
                result = await asl.call_lambda(known, resource, parameters)
        except asl.StatesError as error:
            return {"error": error.error, "cause": error.cause, "at": time.time()}
    return {"result": result, "at": time.time()}


def _is_cancel(error: restate.TerminalError) -> bool:
    return error.status_code == CANCELLED_CODE


def execution_of(execution: asl.Execution) -> MachineExecution:
    """The execution as a branch is handed it."""
    return MachineExecution(
        name=execution.name,
        start_time=execution.start_time,
        input=execution.input,
        state_machine=execution.state_machine,
    )


class RestateRuntime:
    """A `Runtime` over one invocation's context; `keep` writes the live status (given for the
    machine itself, a `StateMachine` workflow; a branch keeps none)."""

    def __init__(
        self,
        ctx: restate.Context,
        *,
        started: float,
        keep: Callable[[MachineStatus], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.randomness: asl.Randomness = _Randomness(ctx)
        self._clock = datetime.fromtimestamp(started, UTC)
        self._keep = keep
        self._status = MachineStatus()
        self._written = 0

    # -- time and history --------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock

    def record(self, event: str, state: str | None, **details: Any) -> None:
        if self._keep is None:
            return
        if event.endswith("Entered"):
            self._status.state = state
        self._status.events.append(
            MachineEvent(at=self._clock, type=event, state=state, details=details)
        )

    def flush(self) -> None:
        """Keep the live status, when it changed since it was last kept (before each durable
        step, and at the end)."""
        if self._keep is not None and len(self._status.events) != self._written:
            self._written = len(self._status.events)
            self._keep(self._status)

    def _advance(self, at: float) -> None:
        self._clock = max(self._clock, datetime.fromtimestamp(at, UTC))

    # -- tasks, waits, fan-out ----------------------------------------------------------------

    async def task(
        self, state: str, resource: str, parameters: Any, *, context: Any, timeout: float | None
    ) -> Any:
        self.record("TaskScheduled", state, resource=resource)
        self.flush()
        known = asl.resource_of(resource)
        try:
            if known is not None and known.kind == "restate":
                key = known.key_in(context)
                result = await self._call(state, known, key, parameters, timeout=timeout)
            else:
                outcome = await self._step(state, resource, parameters, timeout=timeout)
                self._advance(float(outcome["at"]))
                if "error" in outcome:
                    raise asl.StatesError(str(outcome["error"]), str(outcome["cause"]))
                result = outcome["result"]
        except asl.StatesError as error:
            kind = "TaskTimedOut" if error.error == "States.Timeout" else "TaskFailed"
            self.record(kind, state, error=error.error)
            raise
        self.record("TaskSucceeded", state)
        return result

    async def _step(
        self, state: str, resource: str, parameters: Any, *, timeout: float | None
    ) -> dict[str, Any]:
        """The call as a durable step; a defect that outlasts its attempts is
        `States.TaskFailed` (a cancellation is passed on)."""
        try:
            return await self.ctx.run_typed(
                state,
                _attempt,
                restate.RunOptions(max_attempts=3, type_hint=dict[str, Any]),
                state=state,
                resource=resource,
                parameters=parameters,
                timeout=timeout,
            )
        except restate.TerminalError as error:
            if _is_cancel(error):
                raise
            raise asl.StatesError("States.TaskFailed", error.message) from None

    async def _call(
        self,
        state: str,
        target: asl.Resource,
        key: str | None,
        parameters: Any,
        *,
        timeout: float | None,
    ) -> Any:
        """A durable call to another Restate service; a terminal error it ends with is
        `States.TaskFailed` (a cancellation of this machine is passed on, not caught)."""
        call = self.ctx.generic_call(
            target.service, target.handler, arg=json.dumps(parameters).encode(), key=key
        )
        if timeout is not None:
            timer = self.ctx.sleep(timedelta(seconds=timeout), name=f"{state} timeout")
            done, _ = await restate.wait_completed(call, timer)
            if call not in done:
                raise asl.StatesError("States.Timeout", f"{target.service} did not answer in time")
        try:
            answer = await call
        except restate.TerminalError as error:
            if _is_cancel(error):
                raise
            raise asl.StatesError("States.TaskFailed", error.message) from None
        return json.loads(answer) if answer else None

    async def sleep(self, state: str, seconds: float) -> None:
        self.flush()
        await self.ctx.sleep(timedelta(seconds=seconds), name=state)
        self._clock += timedelta(seconds=seconds)

    async def sleep_until(self, state: str, timestamp: datetime) -> None:
        await self.sleep(state, max((timestamp - self._clock).total_seconds(), 0.0))

    async def fan_out(
        self, state: str, execution: asl.Execution, branches: Sequence[asl.Branch], *, limit: int
    ) -> list[Any]:
        """Each branch a call to `StateMachineBranch`, `limit` at a time (0: all at once);
        the outputs in order, or the first failed branch's error."""
        given = execution_of(execution)
        size = limit or len(branches) or 1
        outputs: list[Any] = []
        for first in range(0, len(branches), size):
            window = branches[first : first + size]
            calls = []
            for branch in window:
                if branch.index is not None:
                    self.record("MapIterationStarted", state, index=branch.index)
                run = MachineRun(definition=branch.machine, input=branch.input, execution=given)
                calls.append(
                    self.ctx.generic_call(
                        STATE_MACHINE_BRANCH_SERVICE,
                        STATE_MACHINE_HANDLER,
                        arg=run.model_dump_json().encode(),
                    )
                )
            self.flush()
            await restate.gather(*calls)
            failure: asl.StatesError | None = None
            for branch, call in zip(window, calls, strict=True):
                try:
                    outputs.append(json.loads(await call))
                except restate.TerminalError as error:
                    if _is_cancel(error):
                        raise
                    failure = failure or asl.StatesError(*parse_states_failure(error.message))
                    if branch.index is not None:
                        self.record("MapIterationFailed", state, index=branch.index)
                    continue
                if branch.index is not None:
                    self.record("MapIterationSucceeded", state, index=branch.index)
            if failure is not None:
                raise failure
        return outputs
