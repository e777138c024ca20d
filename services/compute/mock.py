"""`mock`: compute that exists only in this process's memory, with scripted failures.

For tests and benchmarks of the workflow itself: no processes, no network. State is lost when
the services process restarts.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from .local import config_error
from .protocol import ComputeRejectedError, ComputeState, TenantRef

__all__ = ["MockBackend", "MockComputeConfig"]


class MockComputeConfig(BaseModel):
    """Desired config for a mock tenant; `fail_on` makes one operation fail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fail_on: Literal["provision", "update", "destroy", "status"] | None = None
    failure: Literal["transient", "permanent"] = "transient"
    healthy_after: int = Field(default=0, ge=0)
    env: dict[str, str] = Field(default_factory=dict)
    settings: dict[str, JsonValue] = Field(default_factory=dict)


class MockBackend:
    """In-memory tenants; thread-safe."""

    name = "mock"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, dict[str, JsonValue]] = {}
        self._status_calls: dict[str, int] = {}

    def validate_config(self, config: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """Check keys and types; defaults filled in."""
        try:
            return MockComputeConfig.model_validate(dict(config)).model_dump(mode="json")
        except ValidationError as error:
            raise config_error(error) from None

    def _act(self, operation: str, tenant: TenantRef, config: Mapping[str, JsonValue]) -> None:
        parsed = MockComputeConfig.model_validate(dict(config))
        if parsed.fail_on == operation:
            if parsed.failure == "permanent":
                raise ComputeRejectedError(f"mock compute refuses to {operation}")
            raise RuntimeError(f"mock compute failed to {operation} (transient)")

    def _state(self, tenant: TenantRef) -> ComputeState:
        config = self._tenants.get(tenant.tenant_id)
        if config is None:
            return ComputeState(exists=False)
        calls = self._status_calls.get(tenant.tenant_id, 0)
        healthy = calls >= MockComputeConfig.model_validate(config).healthy_after
        return ComputeState(
            exists=True,
            healthy=healthy,
            config=config,
            resource_ids={"mock": tenant.tenant_id},
            endpoints={"http": f"mock://{tenant.tenant_id}"},
        )

    async def provision(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Record the tenant (kept if already there)."""
        with self._lock:
            self._act("provision", tenant, config)
            self._tenants.setdefault(tenant.tenant_id, config)
            return self._state(tenant)

    async def update(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Replace the tenant's config."""
        with self._lock:
            self._act("update", tenant, config)
            self._tenants[tenant.tenant_id] = config
            return self._state(tenant)

    async def destroy(self, tenant: TenantRef) -> None:
        """Forget the tenant."""
        with self._lock:
            self._act("destroy", tenant, self._tenants.get(tenant.tenant_id) or {})
            self._tenants.pop(tenant.tenant_id, None)
            self._status_calls.pop(tenant.tenant_id, None)

    async def reachable(self) -> str:
        """Always: the mock keeps its tenants in memory."""
        return "in memory"

    async def status(self, tenant: TenantRef) -> ComputeState:
        """The recorded tenant; healthy once polled `healthy_after` times."""
        with self._lock:
            self._act("status", tenant, self._tenants.get(tenant.tenant_id) or {})
            self._status_calls[tenant.tenant_id] = self._status_calls.get(tenant.tenant_id, 0) + 1
            return self._state(tenant)
