"""Durations written the way operators write them: ``30m``, ``1h30m``, ``500ms``, ``45s``.

One parser serves the settings file, environment, CLI flags and workflow spec files, so a
timeout means the same thing wherever it is written.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["Duration", "PositiveDuration", "format_duration", "parse_duration"]

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


def parse_duration(value: object) -> timedelta:
    """Turn ``1h30m``, a number of seconds, or a timedelta into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 5m or 1h30m")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return timedelta(seconds=float(text))
        if _WHOLE.fullmatch(text):
            total = timedelta()
            for number, unit in _PART.findall(text):
                total += float(number) * _UNITS[unit]
            return total
    raise ValueError("must be a duration such as 30s, 5m or 1h30m")


def format_duration(value: timedelta) -> str:
    """Write a timedelta back in the same notation (``1h30m``, ``500ms``, ``0s``)."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if total_ms:
        parts.append(f"{total_ms}ms")
    return sign + "".join(parts)


_JSON_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]+)?([mM][sS]|[sSmMhHdD]))+\s*$"},
        {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: 30s, 5m, 1h30m, 500ms, or a number of seconds.",
}

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(_JSON_SCHEMA),
]
"""A pydantic field type: accepts ``30m`` / seconds / timedelta, serializes to ``30m`` in JSON."""


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be > 0")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A `Duration` that must be longer than zero (timeouts, retry intervals)."""
