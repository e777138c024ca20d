"""Names and ids that reach Restate URLs and SQL: derived, then checked, never pasted raw."""

from __future__ import annotations

import re

from .._exceptions import ExecutionNotFoundError, InvalidSpecError

__all__ = [
    "INVOCATION_ID",
    "SERVICE_NAME",
    "check_invocation_id",
    "is_invocation_id",
    "service_name_for",
]

INVOCATION_ID = re.compile(r"^inv_1([0-9A-Za-z]{11})([0-9A-Za-z]{22})$")
"""Restate's invocation id (codec version 1): a partition key (u64) and a uuid (u128), each in
fixed-width base62."""
_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # Restate's digit order
SERVICE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")
HANDLER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def service_name_for(workflow_id: str, *, override: str = "") -> str:
    """`tenant-provisioning` → `TenantProvisioning` (digits kept), unless overridden."""
    name = override or "".join(part[:1].upper() + part[1:] for part in workflow_id.split("-"))
    if not SERVICE_NAME.fullmatch(name):
        raise InvalidSpecError.single(
            "definition.service", f"{name!r} is not a valid Restate service name"
        )
    return name


def _base62(digits: str) -> int:
    value = 0
    for digit in digits:
        value = value * 62 + _BASE62.index(digit)
    return value


def is_invocation_id(execution_id: str) -> bool:
    """Whether this is a Restate invocation id that Restate can decode (else its SQL answers
    500 and its admin API 400); anything else cannot name an execution."""
    match = INVOCATION_ID.fullmatch(execution_id)
    return match is not None and _base62(match[1]) < 2**64 and _base62(match[2]) < 2**128


def check_invocation_id(execution_id: str) -> str:
    """The id, if it can name an execution (`is_invocation_id`); else not found."""
    if not is_invocation_id(execution_id):
        raise ExecutionNotFoundError(execution_id)
    return execution_id
