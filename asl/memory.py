"""`MemoryRuntime`: runs a state machine in memory, at once (a `Wait` or a retry's backoff
waits no time, only moves the runtime's clock). HTTP and Lambda tasks call out for real; a
`restate:` task, or any resource, may be answered by a handler given in code instead."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._exceptions import StatesError
from .checks import check
from .interpreter import execute
from .intrinsics import Randomness, system_randomness
from .resources import call_http, call_lambda, resource_of
from .runtime import Branch, Execution
from .timestamps import format_timestamp

__all__ = ["Event", "MemoryRuntime", "TaskHandler", "run_in_memory"]

TaskHandler = Callable[[Any], Awaitable[Any]]
"""Answers a Task in place of its resource: parameters in, result out (or a `StatesError`)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One history event: its Step Functions name, the state, when, and what else it says."""

    type: str
    state: str | None
    at: datetime
    details: dict[str, Any] = field(default_factory=dict)


class MemoryRuntime:
    """A `Runtime` in memory; `events` holds the history, in order."""

    def __init__(
        self,
        *,
        tasks: Mapping[str, TaskHandler] | None = None,
        randomness: Randomness | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.tasks = dict(tasks or {})
        self.randomness = randomness or system_randomness()
        self._start = (clock or (lambda: datetime.now(UTC)))()
        self._waited = timedelta()
        self.events: list[Event] = []

    def now(self) -> datetime:
        return self._start + self._waited

    def record(self, event: str, state: str | None, **details: Any) -> None:
        self.events.append(Event(event, state, self.now(), details))

    async def task(
        self, state: str, resource: str, parameters: Any, *, context: Any, timeout: float | None
    ) -> Any:
        self.record("TaskScheduled", state, resource=resource)
        try:
            result = await self._call(resource, parameters, timeout=timeout)
        except StatesError as error:
            kind = "TaskTimedOut" if error.error == "States.Timeout" else "TaskFailed"
            self.record(kind, state, error=error.error)
            raise
        self.record("TaskSucceeded", state)
        return result

    async def _call(self, resource: str, parameters: Any, *, timeout: float | None) -> Any:
        handler = self.tasks.get(resource)
        if handler is not None:
            try:
                return await asyncio.wait_for(handler(parameters), timeout)
            except StatesError:
                raise
            except TimeoutError:
                raise StatesError("States.Timeout", f"{resource} did not answer in time") from None
            except Exception as error:  # noqa: BLE001 - a handler's defect is the task's failure
                raise StatesError("States.TaskFailed", f"{type(error).__name__}: {error}") from None
        known = resource_of(resource)
        if known is None or known.kind == "restate":
            raise StatesError("States.TaskFailed", f"no handler for {resource!r} runs in memory")
        if known.kind == "http":
            return await call_http(parameters, timeout=timeout)
        return await call_lambda(known, resource, parameters)

    async def sleep(self, state: str, seconds: float) -> None:
        self._waited += timedelta(seconds=seconds)

    async def sleep_until(self, state: str, timestamp: datetime) -> None:
        self._waited += max(timestamp - self.now(), timedelta())

    async def fan_out(
        self, state: str, execution: Execution, branches: Sequence[Branch], *, limit: int
    ) -> list[Any]:
        outputs = []
        for branch in branches:
            if branch.index is not None:
                self.record("MapIterationStarted", state, index=branch.index)
            try:
                outputs.append(
                    await execute(branch.machine, branch.input, runtime=self, execution=execution)
                )
            except StatesError as error:
                if branch.index is not None:
                    self.record("MapIterationFailed", state, index=branch.index, error=error.error)
                raise
            if branch.index is not None:
                self.record("MapIterationSucceeded", state, index=branch.index)
        return outputs


async def run_in_memory(
    definition: dict[str, Any],
    execution_input: Any,
    *,
    name: str = "",
    runtime: MemoryRuntime | None = None,
) -> Any:
    """The machine's output for `execution_input`, run by `runtime` (a fresh one if not
    given); a `Fail` state, or an error no `Catch` took, is a `StatesError`."""
    check(definition)
    runtime = runtime or MemoryRuntime()
    execution = Execution(
        name=name, input=execution_input, start_time=format_timestamp(runtime.now())
    )
    return await execute(definition, execution_input, runtime=runtime, execution=execution)
