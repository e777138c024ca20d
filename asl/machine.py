"""A state machine run in memory, state by state: `Pass`, `Choice`, `Succeed`, `Fail` and
`Wait` (which waits no time here). The states that call out or fan out (`Task`, `Parallel`,
`Map`) need a runtime that can make them durable, and are refused for now."""

from __future__ import annotations

import copy
from typing import Any

from ._exceptions import DefinitionError, StatesError
from .checks import check_state_paths
from .choice import matches
from .dataflow import effective_input, state_output
from .intrinsics import Randomness
from .paths import read

__all__ = ["RUNS_IN_MEMORY", "check", "run_in_memory"]

RUNS_IN_MEMORY = frozenset({"Pass", "Choice", "Succeed", "Fail", "Wait"})
"""The state types `run_in_memory` runs."""
MAX_TRANSITIONS = 25_000
"""Step Functions' limit on the events of a standard execution; a loop past it fails."""


def check(definition: Any) -> None:
    """Refuse (`DefinitionError`) a definition this runner cannot run as the specification
    says: no `StartAt` / `States`, a `Next` or `Default` to a state that is not there, a state
    with neither `Next` nor `End`, an unsupported state type or query language, a path or an
    intrinsic call that is not well-formed."""
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        raise DefinitionError("", "a state machine has States (an object)")
    if definition.get("QueryLanguage", "JSONPath") != "JSONPath":
        raise DefinitionError("QueryLanguage", "only JSONPath is supported (not JSONata)")
    states: dict[str, Any] = definition["States"]
    if definition.get("StartAt") not in states:
        raise DefinitionError("StartAt", "must name one of the States")
    for name, state in states.items():
        where = f"States.{name}"
        kind = state.get("Type") if isinstance(state, dict) else None
        if kind not in RUNS_IN_MEMORY:
            raise DefinitionError(where, f"Type {kind!r} is not supported yet")
        targets = [state.get("Next"), state.get("Default")] + [
            c.get("Next") for c in state.get("Choices", []) if isinstance(c, dict)
        ]
        for target in (t for t in targets if t is not None):
            if target not in states:
                raise DefinitionError(where, f"Next {target!r} names no state")
        terminal = kind in ("Choice", "Succeed", "Fail")
        if not terminal and not state.get("End") and "Next" not in state:
            raise DefinitionError(where, "needs Next or End: true")
        if kind == "Choice" and not state.get("Choices"):
            raise DefinitionError(where, "a Choice state needs Choices")
        check_state_paths(where, state)


def _context(execution_input: Any, name: str, state: str) -> dict[str, Any]:
    return {
        "Execution": {"Input": execution_input, "Name": name},
        "State": {"Name": state},
        "StateMachine": {},
    }


def run_in_memory(
    definition: dict[str, Any],
    execution_input: Any,
    *,
    name: str = "",
    randomness: Randomness | None = None,
) -> Any:
    """The machine's output for `execution_input`; a `Fail` state, or an error a state raised,
    is a `StatesError` with the name and cause the specification gives it."""
    check(definition)
    states: dict[str, Any] = definition["States"]
    current: str = definition["StartAt"]
    document = copy.deepcopy(execution_input)
    for _ in range(MAX_TRANSITIONS):
        state = states[current]
        context = _context(execution_input, name, current)
        kind = state["Type"]
        if kind == "Fail":
            error = read(state["ErrorPath"], document, context) if "ErrorPath" in state else None
            cause = read(state["CausePath"], document, context) if "CausePath" in state else None
            raise StatesError(
                str(error if error is not None else state.get("Error", "States.Fail")),
                str(cause if cause is not None else state.get("Cause", "")),
            )
        if kind == "Pass":
            given = effective_input(state, document, context, randomness=randomness)
            result = state.get("Result", given)
            document = state_output(state, document, result, context, randomness=randomness)
        else:  # Choice, Succeed and Wait take InputPath and OutputPath only
            path = state.get("InputPath", "$")
            given = {} if path is None else read(path, document, context)
            output_path = state.get("OutputPath", "$")
            chosen = _choose(state, given, context) if kind == "Choice" else None
            document = {} if output_path is None else read(output_path, given, context)
            if kind == "Choice":
                current = chosen  # type: ignore[assignment]
                continue
        if kind == "Succeed" or state.get("End"):
            return document
        current = state["Next"]
    raise StatesError("States.Runtime", f"more than {MAX_TRANSITIONS} state transitions")


def _choose(state: dict[str, Any], given: Any, context: Any) -> str:
    for rule in state["Choices"]:
        if matches(rule, given, context):
            return str(rule["Next"])
    if "Default" in state:
        return str(state["Default"])
    raise StatesError("States.NoChoiceMatched", "no Choice rule matched and there is no Default")
