"""A handler's published input schema (Restate's admin API shows it for every handler), checked
before anything is sent: bad input never creates an execution, nor burns its name.

Problems name the field and the rule, never the value (an input may carry secrets)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from pydantic import JsonValue

from .._exceptions import InvalidSpecError, Problem

__all__ = ["InputSchema"]

_COMPARISONS = {
    "minimum": ">=",
    "maximum": "<=",
    "exclusiveMinimum": ">",
    "exclusiveMaximum": "<",
}


def _path(parts: Iterable[str | int]) -> str:
    text = "input"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _description(schema: dict[str, Any]) -> str | None:
    """What a union accepts, in words: its own description, else its one described branch (a
    nullable field wraps the described type in another union)."""
    if schema.get("description"):
        return str(schema["description"]).rstrip(".")
    branches = [b for b in schema.get("anyOf", schema.get("oneOf", [])) if isinstance(b, dict)]
    described = [str(b["description"]).rstrip(".") for b in branches if b.get("description")]
    return described[0] if len(described) == 1 else None


def _problems(error: ValidationError) -> list[Problem]:
    """What one schema error says, as field + rule."""
    where, kind = _path(error.absolute_path), str(error.validator)
    limit: Any = error.validator_value
    instance: Any = error.instance
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    if kind == "required":
        return [Problem(f"{where}.{name}", "is required") for name in limit if name not in instance]
    if kind == "additionalProperties":
        known = set(schema.get("properties", {}))
        return [
            Problem(f"{where}.{name}", "is not a known field")
            for name in instance
            if name not in known
        ]
    if kind == "enum":
        return [Problem(where, "must be one of " + ", ".join(str(v) for v in limit))]
    if kind == "const":
        return [Problem(where, f"must be {limit!r}")]
    if kind == "pattern":
        return [Problem(where, f"must match {limit}")]
    if kind == "type":
        kinds = limit if isinstance(limit, list) else [limit]
        return [Problem(where, "must be " + " or ".join(f"a JSON {k}" for k in kinds))]
    if kind in _COMPARISONS:
        return [Problem(where, f"must be {_COMPARISONS[kind]} {limit}")]
    if kind in ("maxLength", "minLength"):
        most = "at most" if kind == "maxLength" else "at least"
        return [Problem(where, f"must be {most} {limit} characters")]
    if kind in ("maxItems", "minItems", "maxProperties", "minProperties"):
        most = "at most" if kind.startswith("max") else "at least"
        noun = "items" if kind.endswith("Items") else "fields"
        return [Problem(where, f"must have {most} {limit} {noun}")]
    described = _description(schema) if kind in ("anyOf", "oneOf") else None
    if described:
        return [Problem(where, f"must be {described[:1].lower()}{described[1:]}")]
    return [Problem(where, f"breaks the {kind!r} rule of the handler's input schema")]


class InputSchema:
    """One handler's input schema; `true` (an untyped handler) accepts anything."""

    def __init__(self, schema: JsonValue) -> None:
        self._validator = Draft202012Validator(schema if isinstance(schema, dict | bool) else True)

    def check(self, value: JsonValue) -> None:
        """Raise `InvalidSpecError` listing every rule `value` breaks."""
        errors = sorted(self._validator.iter_errors(value), key=lambda e: list(map(str, e.path)))
        # one error per missing field, each naming them all: keep each problem once
        problems = list(dict.fromkeys(p for error in errors for p in _problems(error)))
        if problems:
            raise InvalidSpecError(problems, subject="execution input")
