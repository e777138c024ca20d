"""Names and ids that reach Restate URLs and SQL: derived, then checked, never pasted raw."""

from __future__ import annotations

import re

from .._exceptions import ExecutionNotFoundError, InvalidSpecError

__all__ = ["INVOCATION_ID", "SERVICE_NAME", "check_invocation_id", "service_name_for"]

INVOCATION_ID = re.compile(r"^inv_[0-9A-Za-z]{20,64}$")
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


def check_invocation_id(execution_id: str) -> str:
    """An execution id is a Restate invocation id; anything else cannot name an execution."""
    if not INVOCATION_ID.fullmatch(execution_id):
        raise ExecutionNotFoundError(execution_id)
    return execution_id
