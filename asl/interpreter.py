"""The interpreter: a state machine run state by state, each state's input and output as the
specification says, `Retry` and `Catch` around `Task`, `Parallel` and `Map`. Everything that is
not a pure function of the document (calls, waits, fan-out, time, history) goes through the
`Runtime`, so that a durable runtime can journal it."""

from __future__ import annotations

import copy
from typing import Any

from ._exceptions import StatesError
from .choice import matches
from .dataflow import effective_input, payload, state_output
from .paths import read, write
from .recovery import catcher_for, delay, matches_error
from .runtime import Branch, Execution, Runtime
from .timestamps import format_timestamp, parse_timestamp

__all__ = ["MAX_TRANSITIONS", "execute"]

MAX_TRANSITIONS = 25_000
"""Step Functions' limit on the events of a standard execution; a loop past it fails."""

_ENTERED = {
    "Task": "TaskStateEntered",
    "Pass": "PassStateEntered",
    "Choice": "ChoiceStateEntered",
    "Wait": "WaitStateEntered",
    "Succeed": "SucceedStateEntered",
    "Fail": "FailStateEntered",
    "Parallel": "ParallelStateEntered",
    "Map": "MapStateEntered",
}


async def execute(
    machine: dict[str, Any], document: Any, *, runtime: Runtime, execution: Execution
) -> Any:
    """The machine's output for `document`; a `Fail` state, or an error no `Catch` took, is a
    `StatesError` named as the specification names it. The caller checks the machine first."""
    return await _Run(runtime, execution).machine(machine, copy.deepcopy(document))


class _Run:
    def __init__(self, runtime: Runtime, execution: Execution) -> None:
        self.runtime = runtime
        self.execution = execution
        self.transitions = 0

    def _context(self, name: str, *, retries: int = 0) -> dict[str, Any]:
        return self.execution.context(name, format_timestamp(self.runtime.now()), retries=retries)

    async def machine(self, machine: dict[str, Any], document: Any) -> Any:
        states: dict[str, Any] = machine["States"]
        current: str | None = machine["StartAt"]
        while current is not None:
            self.transitions += 1
            if self.transitions > MAX_TRANSITIONS:
                raise StatesError(
                    "States.Runtime", f"more than {MAX_TRANSITIONS} state transitions"
                )
            state = states[current]
            kind = state["Type"]
            self.runtime.record(_ENTERED[kind], current)
            document, following = await self._state(current, state, document)
            if kind not in ("Fail",):
                self.runtime.record(_ENTERED[kind].replace("Entered", "Exited"), current)
            current = following
        return document

    async def _state(self, name: str, state: dict[str, Any], raw: Any) -> tuple[Any, str | None]:
        """The state's output and the state to go to next (None: the machine ends)."""
        kind = state["Type"]
        context = self._context(name)
        following = None if state.get("End") else state.get("Next")
        randomness = self.runtime.randomness
        if kind == "Fail":
            raise _failure(state, raw, context)
        if kind == "Pass":
            given = effective_input(state, raw, context, randomness=randomness)
            result = state.get("Result", given)
            return state_output(state, raw, result, context, randomness=randomness), following
        if kind in ("Succeed", "Choice", "Wait"):
            path = state.get("InputPath", "$")
            given = {} if path is None else read(path, raw, context)
            if kind == "Choice":
                following = _choose(state, given, context)
            elif kind == "Wait":
                await self._wait(name, state, given, context)
            output_path = state.get("OutputPath", "$")
            output = {} if output_path is None else read(output_path, given, context)
            return output, None if kind == "Succeed" else following
        try:
            result = await self._attempts(name, state, raw)
        except StatesError as error:
            catcher = catcher_for(state, error)
            if catcher is None:
                raise
            self.runtime.record("CatchTaken", name, error=error.error, next=catcher["Next"])
            caught = {"Error": error.error, "Cause": error.cause}
            result_path = catcher.get("ResultPath", "$")
            output = raw if result_path is None else write(result_path, raw, caught)
            return output, str(catcher["Next"])
        return state_output(state, raw, result, context, randomness=randomness), following

    async def _attempts(self, name: str, state: dict[str, Any], raw: Any) -> Any:
        """The state's work, retried as its `Retry` says (each retrier counts its own)."""
        used: dict[int, int] = {}
        while True:
            try:
                return await self._work(name, state, raw, retries=sum(used.values()))
            except StatesError as error:
                found = next(
                    (
                        (index, retrier)
                        for index, retrier in enumerate(state.get("Retry", []))
                        if matches_error(retrier["ErrorEquals"], error)
                    ),
                    None,
                )
                if found is None:
                    raise
                index, retrier = found
                attempt = used.get(index, 0)
                if attempt >= int(retrier.get("MaxAttempts", 3)):
                    raise
                used[index] = attempt + 1
                seconds = delay(retrier, attempt, self.runtime.randomness)
                self.runtime.record("RetryScheduled", name, error=error.error, seconds=seconds)
                await self.runtime.sleep(name, seconds)

    async def _work(self, name: str, state: dict[str, Any], raw: Any, *, retries: int) -> Any:
        """What a Task, Parallel or Map state produces (its result, before `ResultSelector`)."""
        context = self._context(name, retries=retries)
        randomness = self.runtime.randomness
        kind = state["Type"]
        if kind == "Task":
            parameters = effective_input(state, raw, context, randomness=randomness)
            timeout = _seconds(state, "TimeoutSeconds", raw, context)
            return await self.runtime.task(
                name, str(state["Resource"]), parameters, context=context, timeout=timeout
            )
        if kind == "Parallel":
            given = effective_input(state, raw, context, randomness=randomness)
            branches = [Branch(branch, given) for branch in state["Branches"]]
            return await self.runtime.fan_out(name, self.execution, branches, limit=0)
        path = state.get("InputPath", "$")
        given = {} if path is None else read(path, raw, context)
        items = read(state.get("ItemsPath", "$"), given, context)
        if not isinstance(items, list):
            raise StatesError(
                "States.Runtime", f"Map {name!r}: ItemsPath must select an array of items"
            )
        selector = state.get("ItemSelector", state.get("Parameters"))
        processor = state.get("ItemProcessor") or state["Iterator"]
        branches = []
        for index, item in enumerate(items):
            item_input = item
            if selector is not None:
                scope = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
                item_input = payload(selector, given, scope, randomness=randomness)
            branches.append(Branch(processor, item_input, index=index))
        limit = int(state.get("MaxConcurrency", 0))
        return await self.runtime.fan_out(name, self.execution, branches, limit=limit)

    async def _wait(self, name: str, state: dict[str, Any], given: Any, context: Any) -> None:
        if "Seconds" in state or "SecondsPath" in state:
            seconds = _seconds(state, "Seconds", given, context)
            await self.runtime.sleep(name, seconds or 0.0)
            return
        text = (
            state["Timestamp"]
            if "Timestamp" in state
            else read(state["TimestampPath"], given, context)
        )
        moment = parse_timestamp(text)
        if moment is None:
            raise StatesError("States.Runtime", f"Wait {name!r}: {text!r} is not a timestamp")
        await self.runtime.sleep_until(name, moment)


def _seconds(state: dict[str, Any], field: str, document: Any, context: Any) -> float | None:
    """A state's `field` or `fieldPath` (read from `document`) as seconds; None if neither."""
    if field in state:
        return float(state[field])
    if f"{field}Path" not in state:
        return None
    value = read(state[f"{field}Path"], document, context)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise StatesError("States.Runtime", f"{field}Path must select a number of seconds")
    return float(value)


def _failure(state: dict[str, Any], document: Any, context: Any) -> StatesError:
    error = read(state["ErrorPath"], document, context) if "ErrorPath" in state else None
    cause = read(state["CausePath"], document, context) if "CausePath" in state else None
    return StatesError(
        str(error if error is not None else state.get("Error", "States.Fail")),
        str(cause if cause is not None else state.get("Cause", "")),
    )


def _choose(state: dict[str, Any], given: Any, context: Any) -> str:
    for rule in state["Choices"]:
        if matches(rule, given, context):
            return str(rule["Next"])
    if "Default" in state:
        return str(state["Default"])
    raise StatesError("States.NoChoiceMatched", "no Choice rule matched and there is no Default")
