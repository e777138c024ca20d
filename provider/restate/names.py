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


_IN_ORDER = str.maketrans(_BASE62, "".join(chr(0x30 + n) for n in range(62)))
"""Restate's digits as characters that sort as the digits do: fixed-width numbers then compare
as strings, with no arithmetic (a fleet's poll checks thousands of ids)."""


def _in_order(value: int, width: int) -> str:
    """`value` in `width` base-62 digits, as `_IN_ORDER` writes them."""
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(chr(0x30 + digit))
    return "".join(reversed(digits))


_PARTITION_KEY_LIMIT = _in_order(2**64, 11)
_UUID_LIMIT = _in_order(2**128, 22)


def is_invocation_id(execution_id: str) -> bool:
    """Whether this is a Restate invocation id that Restate can decode (else its SQL answers
    500 and its admin API 400); anything else cannot name an execution."""
    match = INVOCATION_ID.fullmatch(execution_id)
    return (
        match is not None
        and match[1].translate(_IN_ORDER) < _PARTITION_KEY_LIMIT
        and match[2].translate(_IN_ORDER) < _UUID_LIMIT
    )


def check_invocation_id(execution_id: str) -> str:
    """The id, if it can name an execution (`is_invocation_id`); else not found."""
    if not is_invocation_id(execution_id):
        raise ExecutionNotFoundError(execution_id)
    return execution_id
