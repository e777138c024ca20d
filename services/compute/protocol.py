"""The compute backend seam: where a tenant's resources actually run.

Every operation is idempotent and keyed by the tenant, so a durable step that is re-run after a
crash finds and reuses what the first attempt made instead of making it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "ComputeBackend",
    "ComputeConfigError",
    "ComputeRejectedError",
    "ComputeState",
    "TenantRef",
]


class ComputeConfigError(ValueError):
    """The desired config does not fit the backend; one line naming the key and the rule."""

    def __init__(self, key: str, rule: str) -> None:
        self.key = key
        self.rule = rule
        super().__init__(f"desired_config.{key}: {rule}" if key else rule)


class ComputeRejectedError(RuntimeError):
    """The backend refused the request for good (retrying cannot help): e.g. unknown image."""


class TenantRef(BaseModel):
    """Which tenant an operation is for; backends key everything they create on it."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    tenant_uuid: str = ""


class ComputeState(BaseModel):
    """What the backend observes for a tenant right now."""

    exists: bool
    healthy: bool = False
    config: dict[str, JsonValue] = Field(default_factory=dict)
    resource_ids: dict[str, str] = Field(default_factory=dict)
    endpoints: dict[str, str] = Field(default_factory=dict)
    detail: str = ""


@runtime_checkable
class ComputeBackend(Protocol):
    """Runs tenants' compute. Transient failures raise any exception (the step is retried);
    permanent ones raise `ComputeRejectedError`; bad config raises `ComputeConfigError`."""

    name: str

    def validate_config(self, config: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """Check the desired config before any step runs; return it normalized (defaults in)."""
        ...

    async def provision(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Create the tenant's resources, or find the ones an earlier attempt created."""
        ...

    async def update(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Bring existing resources to `config`; already there → no change."""
        ...

    async def destroy(self, tenant: TenantRef) -> None:
        """Remove everything the tenant owns; nothing there → success."""
        ...

    async def status(self, tenant: TenantRef) -> ComputeState:
        """Observe the tenant's resources (`exists=False` when there are none)."""
        ...

    async def reachable(self) -> str:
        """One line on what the backend reached (its engine, API or directory); raise, with
        one line saying what could not be reached, when it cannot do its work now."""
        ...
