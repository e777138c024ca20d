"""Reference paths (`$.a.b[0]`, `$['a b']`, `$$.Execution.Input`): read a value, or write one
(`ResultPath`). Only reference paths: JSONPath's wildcards and filters are refused."""

from __future__ import annotations

import copy
import re
from typing import Any

from ._exceptions import StatesError

__all__ = ["Segment", "is_path", "parse", "read", "write"]

Segment = str | int
_SEGMENT = re.compile(
    r"""\.(?P<name>[^.\[\]'"*]+)|\[(?P<index>\d+)\]|\[(?P<quote>['"])(?P<quoted>.*?)(?P=quote)\]"""
)


def is_path(text: object) -> bool:
    """Whether `text` is written as a path (`$…`)."""
    return isinstance(text, str) and text.startswith("$")


def parse(path: str) -> tuple[bool, list[Segment]]:
    """(whether it reads the context object `$$`, its segments); `ValueError` names the rule."""
    context = path.startswith("$$")
    rest = path[2:] if context else path[1:]
    if not path.startswith("$"):
        raise ValueError(f"{path!r} is not a path: a path starts with $")
    segments: list[Segment] = []
    position = 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if match is None:
            raise ValueError(
                f"{path!r} is not a reference path (names, ['quoted names'] and [indexes] only)"
            )
        if match.group("name") is not None:
            segments.append(match.group("name"))
        elif match.group("index") is not None:
            segments.append(int(match.group("index")))
        else:
            segments.append(match.group("quoted"))
        position = match.end()
    return context, segments


def _parsed(path: str) -> tuple[bool, list[Segment]]:
    """`parse`, its refusal as the run-time error a state raises."""
    try:
        return parse(path)
    except ValueError as error:
        raise StatesError("States.Runtime", str(error)) from None


def read(path: str, document: Any, context: Any = None) -> Any:
    """The value `path` names in `document` (or, for `$$…`, in `context`); a path that names
    nothing, or is not a reference path, is `States.Runtime`."""
    in_context, segments = _parsed(path)
    value = context if in_context else document
    for segment in segments:
        found = (isinstance(segment, int) and isinstance(value, list) and segment < len(value)) or (
            isinstance(segment, str) and isinstance(value, dict) and segment in value
        )
        if found:
            value = value[segment]
        else:
            raise StatesError(
                "States.Runtime", f"the JSONPath {path!r} could not be found in the input"
            )
    return value


def write(path: str, document: Any, value: Any) -> Any:
    """A copy of `document` with `value` at `path` (objects made on the way); `$` is `value`."""
    in_context, segments = _parsed(path)
    if in_context:
        raise StatesError("States.Runtime", f"{path!r}: the context object cannot be written")
    if not segments:
        return value
    if not isinstance(document, dict):
        raise StatesError(
            "States.ResultPathMatchFailure",
            f"unable to apply ResultPath {path!r} to an input that is not an object",
        )
    result = copy.deepcopy(document)
    target = result
    for segment in segments[:-1]:
        if not isinstance(segment, str):
            raise StatesError("States.Runtime", f"{path!r}: a ResultPath names fields only")
        if not isinstance(target.get(segment), dict):
            target[segment] = {}
        target = target[segment]
    last = segments[-1]
    if not isinstance(last, str):
        raise StatesError("States.Runtime", f"{path!r}: a ResultPath names fields only")
    target[last] = value
    return result
