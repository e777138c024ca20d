"""Timestamps as the specification writes them (RFC 3339, `2026-01-01T00:00:00Z`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["format_timestamp", "parse_timestamp"]


def parse_timestamp(value: Any) -> datetime | None:
    """`value` as an aware datetime, or None when it is not an RFC 3339 timestamp."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def format_timestamp(moment: datetime) -> str:
    """`moment` in UTC, to the millisecond, as the context object shows times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
