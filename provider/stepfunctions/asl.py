"""Structural checks of an Amazon States Language document, each problem naming its state.

Step Functions checks a definition when it is created; checking it here first gives every
problem at once, as `definition.States.<State>.<field>: <rule>`, before any AWS call. The
checks are structural (states, transitions, required fields), not a full ASL schema: what
they let through, `CreateStateMachine` still judges (`InvalidDefinition`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._exceptions import Problem

__all__ = ["STATE_TYPES", "check_definition", "transitions"]

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
_WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
_TERMINAL_TYPES = ("Succeed", "Fail")
_MAX_STATE_NAME = 80


def _label(value: Any) -> str:
    """A value quoted for a message, cut short so that a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def transitions(state: Mapping[str, Any], path: str) -> list[tuple[str, Any]]:
    """(field path, target) for every state a state can move to: Next, Default, Choices[].Next,
    Catch[].Next."""
    found: list[tuple[str, Any]] = []
    if "Next" in state:
        found.append((f"{path}.Next", state["Next"]))
    if "Default" in state:
        found.append((f"{path}.Default", state["Default"]))
    for key in ("Choices", "Catch"):
        entries = state.get(key)
        if isinstance(entries, list):
            for index, entry in enumerate(entries):
                if isinstance(entry, Mapping) and "Next" in entry:
                    found.append((f"{path}.{key}[{index}].Next", entry["Next"]))
    return found


def _check_type_fields(state: Mapping[str, Any], kind: str, path: str) -> list[Problem]:
    """The fields each state type requires, and nested machines of Parallel and Map."""
    problems: list[Problem] = []
    if kind == "Task" and not (isinstance(state.get("Resource"), str) and state["Resource"]):
        problems.append(Problem(f"{path}.Resource", "is required for a Task state"))
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            problems.append(Problem(f"{path}.Choices", "must be a non-empty list of rules"))
        else:
            for index, choice in enumerate(choices):
                if not isinstance(choice, Mapping) or "Next" not in choice:
                    problems.append(Problem(f"{path}.Choices[{index}].Next", "is required"))
    catchers = state.get("Catch", [])
    if not isinstance(catchers, list):
        problems.append(Problem(f"{path}.Catch", "must be a list of catchers"))
    else:
        for index, catcher in enumerate(catchers):
            if not isinstance(catcher, Mapping) or "Next" not in catcher:
                problems.append(Problem(f"{path}.Catch[{index}].Next", "is required"))
    if kind == "Wait":
        given = [name for name in _WAIT_FIELDS if name in state]
        if len(given) != 1:
            problems.append(
                Problem(path, "a Wait state needs exactly one of " + ", ".join(_WAIT_FIELDS))
            )
    if kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            problems.append(Problem(f"{path}.Branches", "must be a non-empty list of machines"))
        else:
            for index, branch in enumerate(branches):
                problems.extend(_check_machine(branch, f"{path}.Branches[{index}]"))
    if kind == "Map":
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        if key not in state:
            problems.append(Problem(f"{path}.ItemProcessor", "is required for a Map state"))
        else:
            problems.extend(_check_machine(state[key], f"{path}.{key}"))
    return problems


def _check_flow(state: Mapping[str, Any], kind: str, path: str) -> list[Problem]:
    """How a state ends: Next or End: true, except Choice (by its rules) and Succeed/Fail."""
    problems: list[Problem] = []
    has_next, ends = "Next" in state, state.get("End") is True
    if "End" in state and not isinstance(state["End"], bool):
        problems.append(Problem(f"{path}.End", "must be true or false"))
    if kind in (*_TERMINAL_TYPES, "Choice"):
        for key in ("Next", "End"):
            if key in state:
                problems.append(Problem(f"{path}.{key}", f"is not allowed in a {kind} state"))
    elif has_next and ends:
        problems.append(Problem(path, "must have either Next or End: true, not both"))
    elif not has_next and not ends:
        problems.append(Problem(path, "must have Next or End: true"))
    return problems


def _check_state(name: str, state: Any, path: str) -> list[Problem]:
    """One state: its name, its Type, the fields that Type needs, how it ends."""
    if len(name) > _MAX_STATE_NAME:
        return [Problem(path, f"state names are at most {_MAX_STATE_NAME} characters")]
    if not isinstance(state, Mapping):
        return [Problem(path, "must be an object")]
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        rule = "is required" if kind is None else "must be one of " + ", ".join(STATE_TYPES)
        return [Problem(f"{path}.Type", rule)]
    return _check_type_fields(state, kind, path) + _check_flow(state, kind, path)


def _reachable(start: str, states: Mapping[str, Any], path: str) -> set[str]:
    """The states a run can enter from `start` (Step Functions refuses unreachable ones)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or not isinstance(states.get(name), Mapping):
            continue
        seen.add(name)
        todo.extend(
            target
            for _, target in transitions(states[name], f"{path}.{name}")
            if isinstance(target, str)
        )
    return seen


def _check_machine(machine: Any, path: str) -> list[Problem]:
    """One state machine (the document, a Parallel branch or a Map processor)."""
    if not isinstance(machine, Mapping):
        return [Problem(path, "must be an object with StartAt and States")]
    problems: list[Problem] = []
    states = machine.get("States")
    start = machine.get("StartAt")
    if not isinstance(states, Mapping) or not states:
        problems.append(Problem(f"{path}.States", "must be a non-empty object of states"))
        states = {}
    if not isinstance(start, str) or not start:
        problems.append(Problem(f"{path}.StartAt", "is required (the name of the first state)"))
    elif states and start not in states:
        problems.append(Problem(f"{path}.StartAt", f"{_label(start)} is not a state"))
    for name, state in states.items():
        state_path = f"{path}.States.{name}"
        problems.extend(_check_state(name, state, state_path))
        if isinstance(state, Mapping):
            for field, target in transitions(state, state_path):
                if not isinstance(target, str) or target not in states:
                    problems.append(Problem(field, f"{_label(target)} is not a state"))
    if states and not any(
        isinstance(s, Mapping) and (s.get("End") is True or s.get("Type") in _TERMINAL_TYPES)
        for s in states.values()
    ):
        problems.append(
            Problem(f"{path}.States", "needs a terminal state (End: true, Succeed or Fail)")
        )
    if isinstance(start, str) and start in states:
        reachable = _reachable(start, states, path)
        problems.extend(
            Problem(f"{path}.States.{name}", f"is not reachable from StartAt {_label(start)}")
            for name in states
            if name not in reachable
        )
    return problems


def _check_timeout(definition: Mapping[str, Any]) -> list[Problem]:
    """TimeoutSeconds, when set, is a positive whole number."""
    if "TimeoutSeconds" not in definition:
        return []
    value = definition["TimeoutSeconds"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return [Problem("definition.TimeoutSeconds", "must be a positive whole number of seconds")]
    return []


def check_definition(definition: Mapping[str, Any]) -> list[Problem]:
    """Every structural problem of an ASL document, in document order (empty: it is sound)."""
    return _check_timeout(definition) + _check_machine(definition, "definition")
