"""What the tenant workflow takes and returns, and the live status it reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, HttpUrl, JsonValue

from provider.durations import PositiveDuration
from provider.models import RetryPolicy, ValidatedModel
from provider.validation import MAX_INPUT_BYTES, TENANT_ID_PATTERN

__all__ = [
    "MAX_REQUEST_BYTES",
    "Operation",
    "PlannedChange",
    "ProvisionRequest",
    "ProvisionResult",
    "StatusEvent",
    "TenantPhase",
    "TenantStatus",
]

MAX_REQUEST_BYTES = MAX_INPUT_BYTES
"""Requests above this size are refused before they are parsed."""


class Operation(StrEnum):
    """What the workflow does to the tenant."""

    PLAN = "plan"
    PROVISION = "provision"
    UPDATE = "update"
    DELETE = "delete"


class TenantPhase(StrEnum):
    """Landlord's tenant status machine (requested → planning → provisioning → ready, …)."""

    REQUESTED = "requested"
    PLANNING = "planning"
    PROVISIONING = "provisioning"
    READY = "ready"
    UPDATING = "updating"
    DELETING = "deleting"
    ARCHIVING = "archiving"
    ARCHIVED = "archived"
    FAILED = "failed"


class ProvisionRequest(ValidatedModel):
    """The workflow input a landlord control plane sends for one tenant operation.

    `timeout` is the whole workflow's deadline; `retry_policy` governs each step's retries.
    Invalid input raises `InvalidSpecError` naming every field and rule.
    """

    _subject: ClassVar[str] = "provision request"

    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    tenant_uuid: str = Field(default="", max_length=64)
    operation: Operation
    desired_config: dict[str, JsonValue] = Field(default_factory=dict)
    compute_provider: str = "local"
    api_base_url: HttpUrl | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    timeout: PositiveDuration = timedelta(minutes=30)
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    health_timeout: PositiveDuration = timedelta(minutes=2)


class PlannedChange(BaseModel):
    """One change the operation would make (or made)."""

    action: Literal["create", "update", "destroy", "keep"]
    resource: str
    detail: dict[str, JsonValue] = Field(default_factory=dict)


class ProvisionResult(BaseModel):
    """The workflow output: what the tenant looks like now (the control plane's observed config)."""

    tenant_id: str
    operation: Operation
    phase: TenantPhase
    observed_config: dict[str, JsonValue] = Field(default_factory=dict)
    resource_ids: dict[str, str] = Field(default_factory=dict)
    endpoints: dict[str, str] = Field(default_factory=dict)
    plan: list[PlannedChange] = Field(default_factory=list)


class StatusEvent(BaseModel):
    """One timestamped transition or step in the workflow's history."""

    at: datetime
    type: str
    phase: TenantPhase
    step: str | None = None
    message: str = ""


class TenantStatus(BaseModel):
    """The live status the workflow's `status` handler returns."""

    tenant_id: str = ""
    operation: Operation | None = None
    phase: TenantPhase = TenantPhase.REQUESTED
    step: str | None = None
    steps_done: int = 0
    steps_total: int = 0
    outcome: Literal["running", "succeeded", "failed", "cancelled", "timed_out"] = "running"
    error: str | None = None
    events: list[StatusEvent] = Field(default_factory=list)
