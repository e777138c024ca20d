"""Validation rules shared by every provider, and the translation of pydantic's errors into
`InvalidSpecError` problems a user can act on (field + rule, never a traceback)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from ._exceptions import InvalidSpecError, Problem

__all__ = [
    "EXECUTION_NAME_PATTERN",
    "MAX_INPUT_BYTES",
    "PROVIDER_NAME_PATTERN",
    "TENANT_ID_PATTERN",
    "WORKFLOW_ID_PATTERN",
    "invalid_spec_from",
    "problems_from",
    "validate_execution_id",
    "validate_tenant_id",
    "validate_workflow_id",
]

WORKFLOW_ID_PATTERN = r"^[a-z0-9-]{1,128}$"
EXECUTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
PROVIDER_NAME_PATTERN = r"^[a-z0-9-]{1,64}$"
TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
MAX_INPUT_BYTES = 256 * 1024
"""The largest execution input, as compact JSON (Step Functions' limit; the services' too)."""
_EXECUTION_ID_MAX = 512


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif parts:
            parts.append(f".{item}")
        else:
            parts.append(item)
    return "".join(parts)


def _rule(error: Any) -> str:
    """Say in words what rule the value broke; never echo the value of a secret field."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}.get(kind, "<=")
        limit = next(iter(ctx.values()))
        return f"must be {op} {limit}"
    if kind in {"too_short", "string_too_short"} and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in {"value_error", "assertion_error", "config_rule"}:
        return message
    return message[:1].lower() + message[1:]


def problems_from(error: ValidationError) -> list[Problem]:
    """One `Problem` per pydantic error, named by its dotted field path."""
    return [Problem(_location(e["loc"]), _rule(e)) for e in error.errors()]


def invalid_spec_from(error: ValidationError, *, subject: str) -> InvalidSpecError:
    """An `InvalidSpecError` listing every problem in a pydantic `ValidationError`."""
    return InvalidSpecError(problems_from(error), subject=subject)


def validate_workflow_id(workflow_id: object) -> str:
    """Return the workflow id, or raise `InvalidSpecError` naming the rule it breaks."""
    if not isinstance(workflow_id, str) or not re.fullmatch(WORKFLOW_ID_PATTERN, workflow_id):
        raise InvalidSpecError.single(
            "workflow_id", f"must match {WORKFLOW_ID_PATTERN}", subject="request"
        )
    return workflow_id


def validate_tenant_id(tenant_id: object) -> str:
    """Return the tenant id, or raise `InvalidSpecError` naming the rule it breaks."""
    if not isinstance(tenant_id, str) or not re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        raise InvalidSpecError.single(
            "tenant_id", f"must match {TENANT_ID_PATTERN}", subject="request"
        )
    return tenant_id


def validate_execution_id(execution_id: object) -> str:
    """Return the execution id if it is printable text of sane length, else raise."""
    if (
        not isinstance(execution_id, str)
        or not execution_id
        or len(execution_id) > _EXECUTION_ID_MAX
        or not execution_id.isprintable()
        or execution_id != execution_id.strip()
    ):
        raise InvalidSpecError.single(
            "execution_id",
            f"must be 1-{_EXECUTION_ID_MAX} printable characters without surrounding spaces",
            subject="request",
        )
    return execution_id
