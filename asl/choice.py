"""Choice rules: the comparison operators (each with its `…Path` variant), the type tests, and
`And` / `Or` / `Not`."""

from __future__ import annotations

import re
from typing import Any

from ._exceptions import StatesError
from .paths import read
from .timestamps import parse_timestamp

__all__ = ["COMPARISONS", "TESTS", "matches"]

_MISSING = object()


def _string_matches(value: Any, pattern: Any) -> bool:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return False
    pieces = re.split(r"(?<!\\)\*", pattern)
    regex = ".*".join(re.escape(p.replace("\\*", "*").replace("\\\\", "\\")) for p in pieces)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _kind(value: Any, kind: str) -> bool:
    if kind == "String":
        return isinstance(value, str)
    if kind == "Numeric":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "Boolean":
        return isinstance(value, bool)
    return parse_timestamp(value) is not None


def _compare(kind: str, op: str, left: Any, right: Any) -> bool:
    """`left op right` for values of `kind`; a value of another type never matches."""
    if kind == "Timestamp":
        left, right = parse_timestamp(left), parse_timestamp(right)
        if left is None or right is None:
            return False
    elif not (_kind(left, kind) and _kind(right, kind)):
        return False
    relation: bool = {
        "Equals": left == right,
        "LessThan": left < right,
        "GreaterThan": left > right,
        "LessThanEquals": left <= right,
        "GreaterThanEquals": left >= right,
    }[op]
    return relation


COMPARISONS = {
    f"{kind}{op}": (kind, op)
    for kind in ("String", "Numeric", "Boolean", "Timestamp")
    for op in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
    if kind != "Boolean" or op == "Equals"
}
"""Every comparison operator: name → (type, relation)."""
TESTS = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
"""The operators that test the variable itself."""


def matches(rule: dict[str, Any], document: Any, context: Any = None) -> bool:
    """Whether `document` satisfies the Choice rule."""
    if "And" in rule:
        return all(matches(r, document, context) for r in rule["And"])
    if "Or" in rule:
        return any(matches(r, document, context) for r in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], document, context)
    variable = rule.get("Variable")
    if not isinstance(variable, str):
        raise StatesError("States.Runtime", "a Choice rule needs a Variable")
    try:
        value = read(variable, document, context)
    except StatesError:
        value = _MISSING
    if "IsPresent" in rule:
        return (value is not _MISSING) == bool(rule["IsPresent"])
    for test in TESTS[2:]:
        if test in rule:
            return value is not _MISSING and _kind(value, test[2:]) == bool(rule[test])
    if "IsNull" in rule:
        return value is not _MISSING and (value is None) == bool(rule["IsNull"])
    if value is _MISSING:
        raise StatesError(
            "States.Runtime",
            f"Invalid path {variable!r}: the choice state's input has no such field",
        )
    if "StringMatches" in rule:
        return _string_matches(value, rule["StringMatches"])
    for name, (kind, op) in COMPARISONS.items():
        if name in rule:
            return _compare(kind, op, value, rule[name])
        if f"{name}Path" in rule:
            return _compare(kind, op, value, read(rule[f"{name}Path"], document, context))
    raise StatesError("States.Runtime", "a Choice rule names no known operator")
