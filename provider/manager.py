"""`Manager`: the one entry point the control plane calls.

It validates input before any provider sees it, routes each call to the provider named by
type (or the configured default), and logs and traces every operation with its ids.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from opentelemetry import trace

from telemetry.logs import get_logger

from ._exceptions import InvalidSpecError
from .models import (
    CreateWorkflowResult,
    ExecutionInput,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    WorkflowSpec,
)
from .protocol import Provider, StartsUp
from .registry import Registry
from .validation import validate_execution_id, validate_workflow_id

__all__ = ["MAX_LIST_LIMIT", "Manager"]

MAX_LIST_LIMIT = 1000
_tracer = trace.get_tracer("landlord.workflow")


def _tenant_of(execution: ExecutionInput) -> str | None:
    """The tenant an execution is about, when its tags, metadata or input say so."""
    for source in (execution.tags, execution.metadata, execution.input):
        if isinstance(source, Mapping) and isinstance(source.get("tenant_id"), str):
            return str(source["tenant_id"])
    return None


class Manager:
    """Validates, routes by provider type, and logs every workflow operation."""

    def __init__(self, registry: Registry, *, default_provider: str | None = None) -> None:
        self._registry = registry
        self._default = default_provider
        self._log = get_logger("landlord.workflow.manager")

    @property
    def registry(self) -> Registry:
        """The providers this manager routes to."""
        return self._registry

    @property
    def default_provider(self) -> str | None:
        """The provider used when a call names none."""
        return self._default

    def list_providers(self) -> list[str]:
        """Registered provider names, sorted."""
        return self._registry.list()

    def provider(self, provider_type: str | None = None) -> Provider:
        """The provider for `provider_type`, or the default one when it is None."""
        name = provider_type or self._default
        if not name:
            raise InvalidSpecError.single(
                "provider_type",
                "is required when no default provider is configured",
                subject="request",
            )
        return self._registry.get(name)

    def _spec(self, spec: WorkflowSpec | Mapping[str, Any]) -> tuple[WorkflowSpec, Provider]:
        parsed = spec if isinstance(spec, WorkflowSpec) else WorkflowSpec.model_validate(spec)
        provider = self.provider(parsed.provider_type)
        if parsed.provider_type != provider.name:
            parsed = parsed.model_copy(update={"provider_type": provider.name})
        return parsed, provider

    @asynccontextmanager
    async def _operation(
        self, operation: str, provider: Provider, **ids: str | None
    ) -> AsyncIterator[dict[str, str | None]]:
        """Log one line and open one span per operation; callers may add ids as they learn them."""
        fields: dict[str, str | None] = {k: v for k, v in ids.items() if v is not None}
        started = time.perf_counter()
        with _tracer.start_as_current_span(
            f"workflow.{operation}",
            attributes={
                "workflow.provider": provider.name,
                **{k: v for k, v in fields.items() if v},
            },
        ) as span:
            try:
                yield fields
            except Exception as error:
                span.record_exception(error)
                self._log.warning(
                    "workflow operation failed",
                    operation=operation,
                    provider=provider.name,
                    outcome=type(error).__name__,
                    error=str(error),
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    **fields,
                )
                raise
            # Status is the control plane's polling path: one line per poll only at debug.
            log = self._log.debug if operation == "get_execution_status" else self._log.info
            log(
                "workflow operation",
                operation=operation,
                provider=provider.name,
                outcome="ok",
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                **fields,
            )

    async def validate(self, spec: WorkflowSpec | Mapping[str, Any]) -> WorkflowSpec:
        """Check the spec's structure and its provider's own rules; return the parsed spec."""
        parsed, provider = self._spec(spec)
        async with self._operation("validate", provider, workflow_id=parsed.workflow_id):
            await provider.validate(parsed)
        return parsed

    async def create_workflow(self, spec: WorkflowSpec | Mapping[str, Any]) -> CreateWorkflowResult:
        """Create the workflow in the provider its spec names (or the default one)."""
        parsed, provider = self._spec(spec)
        async with self._operation("create_workflow", provider, workflow_id=parsed.workflow_id):
            return await provider.create_workflow(parsed)

    async def start_execution(
        self,
        workflow_id: str,
        input: ExecutionInput | Mapping[str, Any],
        *,
        provider_type: str | None = None,
    ) -> ExecutionResult:
        """Start (or find, by execution name) one execution of a workflow."""
        validate_workflow_id(workflow_id)
        parsed = (
            input if isinstance(input, ExecutionInput) else ExecutionInput.model_validate(input)
        )
        provider = self.provider(provider_type)
        async with self._operation(
            "start_execution",
            provider,
            workflow_id=workflow_id,
            execution_name=parsed.execution_name,
            tenant_id=_tenant_of(parsed),
        ) as fields:
            result = await provider.start_execution(workflow_id, parsed)
            fields["execution_id"] = result.execution_id
            return result

    async def get_execution_status(
        self, execution_id: str, *, provider_type: str | None = None
    ) -> ExecutionStatus:
        """The execution's current status."""
        validate_execution_id(execution_id)
        provider = self.provider(provider_type)
        async with self._operation(
            "get_execution_status", provider, execution_id=execution_id
        ) as fields:
            status = await provider.get_execution_status(execution_id)
            fields["workflow_id"] = status.workflow_id
            fields["state"] = status.state.value
            return status

    async def stop_execution(
        self, execution_id: str, *, reason: str = "", provider_type: str | None = None
    ) -> None:
        """Stop an execution gracefully; a finished one is left unchanged."""
        validate_execution_id(execution_id)
        provider = self.provider(provider_type)
        async with self._operation("stop_execution", provider, execution_id=execution_id):
            await provider.stop_execution(execution_id, reason)

    async def delete_workflow(self, workflow_id: str, *, provider_type: str | None = None) -> None:
        """Delete the workflow; deleting an unknown one succeeds."""
        validate_workflow_id(workflow_id)
        provider = self.provider(provider_type)
        async with self._operation("delete_workflow", provider, workflow_id=workflow_id):
            await provider.delete_workflow(workflow_id)

    async def list_executions(
        self,
        workflow_id: str,
        *,
        provider_type: str | None = None,
        state: ExecutionState | None = None,
        limit: int = 100,
    ) -> list[ExecutionStatus]:
        """A workflow's executions, newest first, optionally filtered by state."""
        validate_workflow_id(workflow_id)
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidSpecError.single(
                "limit", f"must be between 1 and {MAX_LIST_LIMIT}", subject="request"
            )
        provider = self.provider(provider_type)
        async with self._operation("list_executions", provider, workflow_id=workflow_id):
            return await provider.list_executions(workflow_id, state=state, limit=limit)

    async def start(self) -> None:
        """Let providers that do start-up work (e.g. register built-in workflows) do it; they
        log their own failures rather than stop the caller."""
        for provider in self._registry.providers():
            if isinstance(provider, StartsUp):
                await provider.start()

    async def aclose(self) -> None:
        """Close every registered provider."""
        for provider in self._registry.providers():
            await provider.aclose()
