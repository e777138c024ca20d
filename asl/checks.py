"""What `check` verifies inside each state: every path a reference path, every `.$` value a
path or a well-formed intrinsic call, every Choice rule's paths."""

from __future__ import annotations

from typing import Any

from ._exceptions import DefinitionError
from .intrinsics import check_call, is_intrinsic
from .paths import parse

__all__ = ["check_state_paths"]

_PATH_FIELDS = ("InputPath", "OutputPath", "ResultPath", "ErrorPath", "CausePath")
_TEMPLATES = ("Parameters", "ResultSelector")


def _path(where: str, value: Any, *, writable: bool = False) -> None:
    if value is None:
        return
    try:
        if not isinstance(value, str):
            raise ValueError("must be a path (a string starting with $)")
        in_context, _ = parse(value)
        if writable and in_context:
            raise ValueError("cannot write to the context object ($$)")
    except ValueError as error:
        raise DefinitionError(where, str(error)) from None


def _template(where: str, template: Any) -> None:
    if isinstance(template, list):
        for index, item in enumerate(template):
            _template(f"{where}[{index}]", item)
    elif isinstance(template, dict):
        for key, value in template.items():
            field = f"{where}.{key}"
            if not key.endswith(".$"):
                _template(field, value)
            elif is_intrinsic(value):
                try:
                    check_call(value)
                except ValueError as error:
                    raise DefinitionError(field, str(error)) from None
            else:
                _path(field, value)


def _rule(where: str, rule: Any) -> None:
    if not isinstance(rule, dict):
        raise DefinitionError(where, "a Choice rule is an object")
    for combinator in ("And", "Or"):
        if combinator in rule:
            for index, inner in enumerate(rule[combinator]):
                _rule(f"{where}.{combinator}[{index}]", inner)
            return
    if "Not" in rule:
        _rule(f"{where}.Not", rule["Not"])
        return
    _path(f"{where}.Variable", rule.get("Variable", 0))
    for key, value in rule.items():
        if key.endswith("Path"):
            _path(f"{where}.{key}", value)


def check_state_paths(where: str, state: dict[str, Any]) -> None:
    """Refuse (`DefinitionError`, naming the field) a state whose paths or templates are not
    ones the specification allows."""
    for field in _PATH_FIELDS:
        if field in state:
            _path(f"{where}.{field}", state[field], writable=field == "ResultPath")
    for field in _TEMPLATES:
        if field in state:
            _template(f"{where}.{field}", state[field])
    for index, rule in enumerate(state.get("Choices", [])):
        _rule(f"{where}.Choices[{index}]", rule)
