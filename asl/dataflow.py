"""How a state's input becomes its output: `InputPath`, `Parameters` (a payload template),
`ResultSelector`, `ResultPath`, `OutputPath`, in the specification's order."""

from __future__ import annotations

from typing import Any

from ._exceptions import StatesError
from .intrinsics import Randomness, evaluate, is_intrinsic
from .paths import is_path, read, write

__all__ = ["effective_input", "payload", "state_output"]

_UNSET = object()


def payload(
    template: Any, document: Any, context: Any = None, *, randomness: Randomness | None = None
) -> Any:
    """A payload template filled from `document`: a key ending `.$` takes the value of its
    path or intrinsic call (under the key without `.$`); objects and arrays are filled inside."""
    if isinstance(template, list):
        return [payload(item, document, context, randomness=randomness) for item in template]
    if not isinstance(template, dict):
        return template
    filled: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            if is_intrinsic(value):
                filled[key[:-2]] = evaluate(value, document, context, randomness=randomness)
            elif is_path(value):
                filled[key[:-2]] = read(value, document, context)
            else:
                raise StatesError(
                    "States.Runtime", f"the value of {key!r} must be a path or an intrinsic call"
                )
        else:
            filled[key] = payload(value, document, context, randomness=randomness)
    return filled


def effective_input(
    state: dict[str, Any], raw: Any, context: Any = None, *, randomness: Randomness | None = None
) -> Any:
    """The state's input after `InputPath` (null: `{}`) and `Parameters`."""
    path = state.get("InputPath", "$")
    value = {} if path is None else read(path, raw, context)
    if "Parameters" in state:
        value = payload(state["Parameters"], value, context, randomness=randomness)
    return value


def state_output(
    state: dict[str, Any],
    raw: Any,
    result: Any,
    context: Any = None,
    *,
    randomness: Randomness | None = None,
) -> Any:
    """The state's output from its raw input and its result: `ResultSelector`, then
    `ResultPath` (null: the input passes through), then `OutputPath` (null: `{}`)."""
    if "ResultSelector" in state:
        result = payload(state["ResultSelector"], result, context, randomness=randomness)
    result_path = state.get("ResultPath", "$")
    combined = raw if result_path is None else write(result_path, raw, result)
    output_path = state.get("OutputPath", "$")
    return {} if output_path is None else read(output_path, combined, context)
