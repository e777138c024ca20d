"""Validation rules shared by every provider, and the translation of pydantic's errors into
`InvalidSpecError` problems a user can act on (field + rule, never a traceback)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

import asl
from services.contract import MAX_INPUT_BYTES, TENANT_ID_PATTERN, problems_from

from ._exceptions import InvalidSpecError, Problem

__all__ = [
    "EXECUTION_NAME_PATTERN",
    "MAX_INPUT_BYTES",
    "PROVIDER_NAME_PATTERN",
    "TENANT_ID_PATTERN",
    "WORKFLOW_ID_PATTERN",
    "asl_problems",
    "invalid_spec_from",
    "problems_from",
    "validate_execution_id",
    "validate_tenant_id",
    "validate_workflow_id",
]

WORKFLOW_ID_PATTERN = r"^[a-z0-9-]{1,128}$"
EXECUTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
PROVIDER_NAME_PATTERN = r"^[a-z0-9-]{1,64}$"
_EXECUTION_ID_MAX = 512


def invalid_spec_from(error: ValidationError, *, subject: str) -> InvalidSpecError:
    """An `InvalidSpecError` listing every problem in a pydantic `ValidationError`."""
    return InvalidSpecError(problems_from(error), subject=subject)


def asl_problems(
    definition: Any, *, resources: bool = True, jsonata: bool = False
) -> list[Problem]:
    """What breaks the specification in an ASL definition, each problem named
    `definition.<field>` (see `asl.problems` for the options)."""
    return [
        Problem(f"definition.{found.where}".rstrip("."), found.rule)
        for found in asl.problems(definition, resources=resources, jsonata=jsonata)
    ]


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
