"""What a definition must be before it runs, every problem named by its field
(`States.<State>.<field>`) and the rule: states, transitions, how each state ends, the fields
each type needs, reachability, `Retry` / `Catch`, every path a reference path, every `.$`
value a path or a well-formed intrinsic call, and (for the engines that call them here) the
Task resources."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._exceptions import DefinitionError
from .intrinsics import check_call, is_intrinsic
from .paths import parse
from .recovery import ALL, is_predefined
from .resources import resource_of

__all__ = ["STATE_TYPES", "check", "is_state_machine", "problems", "transitions"]

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
_WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
_TERMINAL_TYPES = ("Succeed", "Fail")
_RECOVERS = ("Task", "Parallel", "Map")
_MAX_STATE_NAME = 80
_PATH_FIELDS = ("InputPath", "OutputPath", "ResultPath", "ErrorPath", "CausePath", "ItemsPath")
_TEMPLATES = ("Parameters", "ResultSelector", "ItemSelector")


def is_state_machine(definition: Any) -> bool:
    """Whether a workflow definition is written in Amazon States Language (`StartAt` and
    `States`), rather than in a provider's own terms."""
    return isinstance(definition, Mapping) and "StartAt" in definition and "States" in definition


@dataclass(frozen=True, slots=True)
class _Options:
    resources: bool
    jsonata: bool


def _label(value: Any) -> str:
    """A value quoted for a message, cut short so that a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def transitions(state: Mapping[str, Any], path: str) -> list[tuple[str, Any]]:
    """(field path, target) for every state a state can move to: Next, Default, Choices[].Next,
    Catch[].Next."""
    found: list[tuple[str, Any]] = []
    for key in ("Next", "Default"):
        if key in state:
            found.append((f"{path}.{key}", state[key]))
    for key in ("Choices", "Catch"):
        entries = state.get(key)
        if isinstance(entries, list):
            for index, entry in enumerate(entries):
                if isinstance(entry, Mapping) and "Next" in entry:
                    found.append((f"{path}.{key}[{index}].Next", entry["Next"]))
    return found


# -- paths and templates ---------------------------------------------------------------------


def _path(where: str, value: Any, *, writable: bool = False) -> Iterator[DefinitionError]:
    if value is None:
        return
    try:
        if not isinstance(value, str):
            raise ValueError("must be a path (a string starting with $)")
        in_context, _ = parse(value)
        if writable and in_context:
            raise ValueError("cannot write to the context object ($$)")
    except ValueError as error:
        yield DefinitionError(where, str(error))


def _template(where: str, template: Any) -> Iterator[DefinitionError]:
    if isinstance(template, list):
        for index, item in enumerate(template):
            yield from _template(f"{where}[{index}]", item)
    elif isinstance(template, dict):
        filled = [key.removesuffix(".$") for key in template]
        for twice in sorted({key for key in filled if filled.count(key) > 1}):
            yield DefinitionError(f"{where}.{twice}", "is given twice (once with .$, once without)")
        for key, value in template.items():
            field = f"{where}.{key}"
            if not key.endswith(".$"):
                yield from _template(field, value)
            elif is_intrinsic(value):
                try:
                    check_call(value)
                except ValueError as error:
                    yield DefinitionError(field, str(error))
            else:
                yield from _path(field, value)


def _rule(where: str, rule: Any, *, top: bool) -> Iterator[DefinitionError]:
    if not isinstance(rule, Mapping):
        yield DefinitionError(where, "a Choice rule is an object")
        return
    if top and "Next" not in rule:
        yield DefinitionError(f"{where}.Next", "is required")
    for combinator in ("And", "Or"):
        if combinator in rule:
            inner = rule[combinator]
            if not isinstance(inner, list) or not inner:
                yield DefinitionError(f"{where}.{combinator}", "must be a non-empty list of rules")
                return
            for index, nested in enumerate(inner):
                yield from _rule(f"{where}.{combinator}[{index}]", nested, top=False)
            return
    if "Not" in rule:
        yield from _rule(f"{where}.Not", rule["Not"], top=False)
        return
    yield from _path(f"{where}.Variable", rule.get("Variable", 0))
    for key, value in rule.items():
        if key.endswith("Path"):
            yield from _path(f"{where}.{key}", value)


def _paths(where: str, state: Mapping[str, Any]) -> Iterator[DefinitionError]:
    for field in _PATH_FIELDS:
        if field in state:
            yield from _path(f"{where}.{field}", state[field], writable=field == "ResultPath")
    for field in _TEMPLATES:
        if field in state:
            yield from _template(f"{where}.{field}", state[field])
    for field in ("SecondsPath", "TimestampPath", "TimeoutSecondsPath"):
        if field in state:
            yield from _path(f"{where}.{field}", state[field])
    choices = state.get("Choices")
    if isinstance(choices, list):
        for index, rule in enumerate(choices):
            yield from _rule(f"{where}.Choices[{index}]", rule, top=True)


# -- Retry and Catch ---------------------------------------------------------------------------


def _error_names(where: str, names: Any, *, last: bool) -> Iterator[DefinitionError]:
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        yield DefinitionError(where, "must be a non-empty list of error names")
    elif ALL in names and (len(names) > 1 or not last):
        yield DefinitionError(where, f"{ALL} must stand alone, in the last entry")
    else:
        for name in names:
            if name.startswith("States.") and not is_predefined(name):
                yield DefinitionError(
                    where, f"{name} is no error the language defines (States. is reserved)"
                )


def _number(where: str, value: Any, *, minimum: float, whole: bool) -> Iterator[DefinitionError]:
    kinds = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
        kind = "a whole number" if whole else "a number"
        yield DefinitionError(where, f"must be {kind} of at least {minimum:g}")


def _recovery(where: str, state: Mapping[str, Any], kind: str) -> Iterator[DefinitionError]:
    for key in ("Retry", "Catch"):
        if key not in state:
            continue
        if kind not in _RECOVERS:
            yield DefinitionError(f"{where}.{key}", f"is not allowed in a {kind} state")
            continue
        entries = state[key]
        if not isinstance(entries, list):
            yield DefinitionError(f"{where}.{key}", f"must be a list of {key.lower()}ers")
            continue
        for index, entry in enumerate(entries):
            at = f"{where}.{key}[{index}]"
            if not isinstance(entry, Mapping):
                yield DefinitionError(at, "must be an object")
                continue
            last = index == len(entries) - 1
            yield from _error_names(f"{at}.ErrorEquals", entry.get("ErrorEquals"), last=last)
            if key == "Catch":
                if "Next" not in entry:
                    yield DefinitionError(f"{at}.Next", "is required")
                if "ResultPath" in entry:
                    yield from _path(f"{at}.ResultPath", entry["ResultPath"], writable=True)
                continue
            for field, minimum, whole in (
                ("IntervalSeconds", 1, True),
                ("MaxAttempts", 0, True),
                ("BackoffRate", 1, False),
                ("MaxDelaySeconds", 1, True),
            ):
                if field in entry:
                    yield from _number(f"{at}.{field}", entry[field], minimum=minimum, whole=whole)
            if entry.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
                yield DefinitionError(f"{at}.JitterStrategy", "must be FULL or NONE")


# -- states and machines -----------------------------------------------------------------------


def _resource(where: str, resource: str) -> Iterator[DefinitionError]:
    """A Task resource this engine calls; a `restate:` key written as a path reads `$$`."""
    known = resource_of(resource)
    if known is None:
        yield DefinitionError(
            where,
            f"{_label(resource)} is not a resource this engine calls (http:invoke, a "
            "Lambda function, lambda:invoke, restate:<Service>/<handler>)",
        )
    elif known.key is not None and known.key.startswith("$"):
        if not known.key.startswith("$$"):
            yield DefinitionError(where, "a key written as a path reads the context ($$)")
        else:
            yield from _path(where, known.key)


def _type_fields(
    state: Mapping[str, Any], kind: str, path: str, *, language: str, options: _Options
) -> Iterator[DefinitionError]:
    """The fields each state type requires, and the nested machines of Parallel and Map."""
    if kind == "Task":
        resource = state.get("Resource")
        if not (isinstance(resource, str) and resource):
            yield DefinitionError(f"{path}.Resource", "is required for a Task state")
        elif options.resources:
            yield from _resource(f"{path}.Resource", resource)
        for field in ("TimeoutSeconds", "HeartbeatSeconds"):
            if field in state and f"{field}Path" in state:
                yield DefinitionError(path, f"give {field} or {field}Path, not both")
            elif field in state:
                yield from _number(f"{path}.{field}", state[field], minimum=1, whole=True)
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            yield DefinitionError(f"{path}.Choices", "must be a non-empty list of rules")
    if kind == "Wait":
        given = [name for name in _WAIT_FIELDS if name in state]
        if len(given) != 1:
            yield DefinitionError(
                path, "a Wait state needs exactly one of " + ", ".join(_WAIT_FIELDS)
            )
        elif "Seconds" in state:
            yield from _number(f"{path}.Seconds", state["Seconds"], minimum=0, whole=True)
    if kind == "Fail":
        for field in ("Error", "Cause"):
            if field in state and f"{field}Path" in state:
                yield DefinitionError(path, f"give {field} or {field}Path, not both")
    if kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            yield DefinitionError(f"{path}.Branches", "must be a non-empty list of machines")
        else:
            for index, branch in enumerate(branches):
                yield from _machine(
                    branch, f"{path}.Branches[{index}]", language=language, options=options
                )
    if kind == "Map":
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        if "ItemSelector" in state and "Parameters" in state:
            yield DefinitionError(path, "give ItemSelector or Parameters, not both")
        if key not in state:
            yield DefinitionError(f"{path}.ItemProcessor", "is required for a Map state")
        elif "Iterator" in state and key == "ItemProcessor":
            yield DefinitionError(path, "give ItemProcessor or Iterator, not both")
        else:
            processor = state[key]
            if (
                isinstance(processor, Mapping)
                and processor.get("ProcessorConfig", {}).get("Mode", "INLINE") != "INLINE"
            ):
                yield DefinitionError(
                    f"{path}.{key}.ProcessorConfig.Mode", "only INLINE is run here"
                )
            yield from _machine(processor, f"{path}.{key}", language=language, options=options)
        if "MaxConcurrency" in state:
            yield from _number(
                f"{path}.MaxConcurrency", state["MaxConcurrency"], minimum=0, whole=True
            )


def _flow(state: Mapping[str, Any], kind: str, path: str) -> Iterator[DefinitionError]:
    """How a state ends: Next or End: true, except Choice (by its rules) and Succeed/Fail."""
    has_next, ends = "Next" in state, state.get("End") is True
    if "End" in state and not isinstance(state["End"], bool):
        yield DefinitionError(f"{path}.End", "must be true or false")
    if kind in (*_TERMINAL_TYPES, "Choice"):
        for key in ("Next", "End"):
            if key in state:
                yield DefinitionError(f"{path}.{key}", f"is not allowed in a {kind} state")
    elif has_next and ends:
        yield DefinitionError(path, "must have either Next or End: true, not both")
    elif not has_next and not ends:
        yield DefinitionError(path, "must have Next or End: true")


def _state(
    name: str, state: Any, path: str, *, language: str, options: _Options
) -> Iterator[DefinitionError]:
    """One state: its name, its Type, the fields that Type needs, how it ends, its paths."""
    if len(name) > _MAX_STATE_NAME:
        yield DefinitionError(path, f"state names are at most {_MAX_STATE_NAME} characters")
        return
    if not isinstance(state, Mapping):
        yield DefinitionError(path, "must be an object")
        return
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        rule = "is required" if kind is None else "must be one of " + ", ".join(STATE_TYPES)
        yield DefinitionError(f"{path}.Type", rule)
        return
    language = state.get("QueryLanguage", language)
    if language != "JSONPath" and not options.jsonata:
        yield DefinitionError(f"{path}.QueryLanguage", "only JSONPath is supported (not JSONata)")
        return
    yield from _type_fields(state, kind, path, language=language, options=options)
    yield from _flow(state, kind, path)
    yield from _recovery(path, state, kind)
    if language == "JSONPath":  # a JSONata state's fields are another language's
        yield from _paths(path, state)


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


def _machine(
    machine: Any, path: str, *, language: str, options: _Options
) -> Iterator[DefinitionError]:
    """One state machine (the document, a Parallel branch or a Map processor)."""
    prefix = f"{path}." if path else ""
    if not isinstance(machine, Mapping):
        yield DefinitionError(path, "must be an object with StartAt and States")
        return
    language = machine.get("QueryLanguage", language)
    if language != "JSONPath" and not options.jsonata:
        yield DefinitionError(f"{prefix}QueryLanguage", "only JSONPath is supported (not JSONata)")
        return
    states = machine.get("States")
    start = machine.get("StartAt")
    if not isinstance(states, Mapping) or not states:
        yield DefinitionError(f"{prefix}States", "must be a non-empty object of states")
        states = {}
    if not isinstance(start, str) or not start:
        yield DefinitionError(f"{prefix}StartAt", "is required (the name of the first state)")
    elif states and start not in states:
        yield DefinitionError(f"{prefix}StartAt", f"{_label(start)} is not a state")
    for name, state in states.items():
        state_path = f"{prefix}States.{name}"
        yield from _state(name, state, state_path, language=language, options=options)
        if isinstance(state, Mapping):
            for field, target in transitions(state, state_path):
                if not isinstance(target, str) or target not in states:
                    yield DefinitionError(field, f"{_label(target)} is not a state")
    if states and not any(
        isinstance(s, Mapping) and (s.get("End") is True or s.get("Type") in _TERMINAL_TYPES)
        for s in states.values()
    ):
        yield DefinitionError(
            f"{prefix}States", "needs a terminal state (End: true, Succeed or Fail)"
        )
    if isinstance(start, str) and start in states:
        reachable = _reachable(start, states, path)
        for name in states:
            if name not in reachable:
                yield DefinitionError(
                    f"{prefix}States.{name}", f"is not reachable from StartAt {_label(start)}"
                )


def _unique_names(definition: Any) -> Iterator[DefinitionError]:
    """State names are unique in the whole machine, branches and Map processors included."""
    seen: set[str] = set()
    todo: list[tuple[str, Any]] = [("", definition)]
    while todo:
        path, machine = todo.pop(0)
        states = machine.get("States") if isinstance(machine, Mapping) else None
        if not isinstance(states, Mapping):
            continue
        prefix = f"{path}." if path else ""
        for name, state in states.items():
            if name in seen:
                yield DefinitionError(f"{prefix}States.{name}", "another state has this name")
            seen.add(name)
            if not isinstance(state, Mapping):
                continue
            branches = state.get("Branches")
            if isinstance(branches, list):
                todo.extend(
                    (f"{prefix}States.{name}.Branches[{i}]", b) for i, b in enumerate(branches)
                )
            for key in ("ItemProcessor", "Iterator"):
                if key in state:
                    todo.append((f"{prefix}States.{name}.{key}", state[key]))


def problems(
    definition: Any, *, resources: bool = True, jsonata: bool = False
) -> list[DefinitionError]:
    """Every problem of an ASL document, in document order (empty: it is sound). With
    `resources`, a Task whose resource is not one of `asl.resources` is a problem too; with
    `jsonata`, JSONata states are allowed (their structure checked, not their expressions).
    Step Functions calls many more resources, and runs JSONata: it judges both itself."""
    options = _Options(resources=resources, jsonata=jsonata)
    found = list(_machine(definition, "", language="JSONPath", options=options))
    found.extend(_unique_names(definition))
    if isinstance(definition, Mapping) and "TimeoutSeconds" in definition:
        value = definition["TimeoutSeconds"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            found.insert(
                0, DefinitionError("TimeoutSeconds", "must be a positive whole number of seconds")
            )
    return found


def check(definition: Any) -> None:
    """Refuse (`DefinitionError`, the first problem `problems` finds) a definition that
    breaks the specification, is written in JSONata, or names a resource no engine here
    calls."""
    found = problems(definition)
    if found:
        raise found[0]
