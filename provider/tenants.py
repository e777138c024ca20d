"""Tenants as a control plane sees them, over a `Manager`: each operation is one execution of
the tenant workflow, named from the tenant, the operation and a hash of what it asks for.

- A repeat of the tenant's latest operation (same tenant, operation, desired config and
  compute provider) is that execution again, running or ended: nothing runs twice.
- Anything else is a new execution: a changed config, another operation, or the same request
  after something else ran (provision, delete, provision again) — then the name gets a
  generation suffix (`-2`, `-3`, …), since the first name is taken.
- A tenant's phase is read from its latest operation: the workflow's output when it succeeded,
  its live progress while it runs, `failed` when it failed, timed out or was cancelled.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, JsonValue, ValidationError

from services.contract import TENANT_WORKFLOW_ID, Operation, ProvisionRequest, TenantPhase

from ._exceptions import InvalidSpecError
from .manager import MAX_LIST_LIMIT, Manager
from .models import ExecutionInput, ExecutionResult, ExecutionState, ExecutionStatus
from .validation import problems_from

__all__ = [
    "TENANT_TRIGGER",
    "TenantSummary",
    "Tenants",
    "operation_name",
    "phase_of",
    "request_digest",
]

TENANT_TRIGGER = "landlord-restate tenant"
"""The trigger source of the executions `Tenants.start` starts."""
_DIGEST_HEX = 12
_SLUG = 48
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_RUNNING_PHASE: dict[str, TenantPhase] = {
    Operation.PLAN: TenantPhase.PLANNING,
    Operation.PROVISION: TenantPhase.PROVISIONING,
    Operation.UPDATE: TenantPhase.UPDATING,
    Operation.DELETE: TenantPhase.DELETING,
}


def request_digest(request: Mapping[str, Any]) -> str:
    """A short hash of what an operation asks for (tenant, operation, desired config,
    compute provider), the same whatever the order of the config's keys."""
    asked = {
        key: request.get(key)
        for key in ("tenant_id", "operation", "desired_config", "compute_provider")
    }
    canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:_DIGEST_HEX]


def _slug(tenant_id: str) -> str:
    """The tenant id as the start of an execution name: 48 characters a name may hold."""
    return _UNSAFE.sub("_", tenant_id)[:_SLUG]


def operation_name(tenant_id: str, operation: str, digest: str) -> str:
    """The first execution name of an operation: `<tenant>-<operation>-<digest>` (the tenant
    cut to 48 safe characters; the digest tells tenants apart that the cut makes alike)."""
    return f"{_slug(tenant_id)}-{operation}-{digest}"


def _of_request(name: str, base: str) -> bool:
    """Whether an execution name is `base` or one of its generations (`base-2`, …)."""
    return name == base or re.fullmatch(re.escape(base) + r"-\d+", name) is not None


def _started(status: ExecutionStatus) -> datetime:
    return status.start_time or status.stop_time or datetime.min.replace(tzinfo=UTC)


def _input(status: ExecutionStatus) -> Mapping[str, Any]:
    return status.input if isinstance(status.input, Mapping) else {}


def phase_of(status: ExecutionStatus) -> str:
    """The tenant's phase after (or during) this operation."""
    if status.state is ExecutionState.SUCCEEDED and isinstance(status.output, Mapping):
        return str(status.output.get("phase", TenantPhase.READY))
    if status.state.is_terminal:
        return TenantPhase.FAILED.value
    progress = status.metadata.get("progress")
    if isinstance(progress, Mapping) and progress.get("phase"):
        return str(progress["phase"])
    operation = str(_input(status).get("operation", ""))
    return _RUNNING_PHASE.get(operation, TenantPhase.REQUESTED).value


class TenantSummary(BaseModel):
    """A tenant, as its latest operation leaves it."""

    tenant_id: str
    phase: str
    operation: str
    execution_id: str
    execution_name: str
    state: ExecutionState
    started: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, status: ExecutionStatus) -> TenantSummary:
        asked = _input(status)
        return cls(
            tenant_id=str(asked.get("tenant_id", "")),
            phase=phase_of(status),
            operation=str(asked.get("operation", "")),
            execution_id=status.execution_id,
            execution_name=status.execution_name,
            state=status.state,
            started=status.start_time.isoformat() if status.start_time else None,
            error=f"[{status.error.code}] {status.error.message}" if status.error else None,
        )


class Tenants:
    """Tenant operations through one manager, on the tenant workflow (`workflow_id`)."""

    def __init__(
        self,
        manager: Manager,
        *,
        workflow_id: str = TENANT_WORKFLOW_ID,
        provider_type: str | None = None,
    ) -> None:
        self.manager = manager
        self.workflow_id = workflow_id
        self.provider_type = provider_type

    async def operations(self, tenant_id: str | None = None) -> list[ExecutionStatus]:
        """The tenant's operations (every tenant's, without one), newest first, among the
        workflow's latest `MAX_LIST_LIMIT` executions."""
        listed = await self.manager.list_executions(
            self.workflow_id, provider_type=self.provider_type, limit=MAX_LIST_LIMIT
        )
        if tenant_id is not None:
            listed = [s for s in listed if s.execution_name.startswith(f"{_slug(tenant_id)}-")]
        found = await self.manager.get_execution_statuses(
            [s.execution_id for s in listed], provider_type=self.provider_type
        )
        statuses = [found[s.execution_id] for s in listed if s.execution_id in found]
        if tenant_id is not None:
            statuses = [s for s in statuses if _input(s).get("tenant_id") == tenant_id]
        return sorted(statuses, key=_started, reverse=True)

    async def start(
        self,
        tenant_id: str,
        operation: Operation | str,
        *,
        desired_config: Mapping[str, JsonValue] | None = None,
        compute_provider: str | None = None,
    ) -> ExecutionResult:
        """Start the operation, or find it: see the module's rules. A bad request is refused
        (`InvalidSpecError`) before anything is read or started."""
        fields: dict[str, Any] = {"tenant_id": tenant_id, "operation": operation}
        if desired_config is not None:
            fields["desired_config"] = dict(desired_config)
        if compute_provider is not None:
            fields["compute_provider"] = compute_provider
        try:
            request = ProvisionRequest.model_validate(fields)
        except ValidationError as error:
            raise InvalidSpecError(problems_from(error), subject=ProvisionRequest.subject) from None
        document = request.model_dump(mode="json", exclude_unset=True)
        digest = request_digest(request.model_dump(mode="json"))
        base = operation_name(request.tenant_id, request.operation, digest)
        history = await self.operations(request.tenant_id)
        if history and _of_request(history[0].execution_name, base):
            name = history[0].execution_name
        else:
            taken = {s.execution_name for s in history}
            name, generation = base, 1
            while name in taken:
                generation += 1
                name = f"{base}-{generation}"
        return await self.manager.start_execution(
            self.workflow_id,
            ExecutionInput(execution_name=name, input=document, trigger_source=TENANT_TRIGGER),
            provider_type=self.provider_type,
        )

    async def latest(self, tenant_id: str) -> TenantSummary | None:
        """The tenant as its latest operation leaves it, or None when it has none."""
        history = await self.operations(tenant_id)
        return TenantSummary.of(history[0]) if history else None

    async def list(self) -> list[TenantSummary]:
        """Every tenant with an operation, as its latest one leaves it, by tenant id."""
        latest: dict[str, ExecutionStatus] = {}
        for status in await self.operations():
            latest.setdefault(str(_input(status).get("tenant_id", "")), status)
        return [TenantSummary.of(latest[tenant]) for tenant in sorted(latest) if tenant]
