"""`Manager`: the one entry point the control plane calls.

It validates input before any provider sees it, routes each call to the provider named by
type (or the configured default), and logs and traces every operation with its ids. Waiting for
an execution and reading many statuses use the provider's own capability when it declares one
(`WaitsForExecutions`, `ReadsManyStatuses`), and the plain `Provider` calls otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from opentelemetry import trace

from services.contract import format_duration
from telemetry.logs import get_logger

from ._exceptions import ExecutionNotFoundError, InvalidSpecError, Problem
from .metrics import record_operation
from .models import (
    CreateWorkflowResult,
    ExecutionInput,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    HealthCheck,
    ProviderHealth,
    WorkflowSpec,
)
from .polling import poll_until
from .protocol import ChecksHealth, Provider, ReadsManyStatuses, StartsUp, WaitsForExecutions
from .registry import Registry
from .validation import validate_execution_id, validate_workflow_id

__all__ = ["MAX_BATCH", "MAX_LIST_LIMIT", "MAX_WAIT", "READ_CONCURRENCY", "Manager"]

MAX_LIST_LIMIT = 1000
MAX_BATCH = 1000
"""The most execution ids one `get_execution_statuses` call takes."""
MAX_WAIT = timedelta(minutes=15)
"""The longest one `wait_for_execution` call waits; a longer wait is a loop of calls."""
READ_CONCURRENCY = 8
"""Status reads in flight at once when a provider cannot read many in one round trip."""

_POLLING = frozenset({"get_execution_status", "get_execution_statuses", "wait_for_execution"})
"""The control plane's polling path: one log line per call only at debug."""

_tracer = trace.get_tracer("landlord.workflow")

_Field = str | int | list[str] | None
"""What an operation's log line and span carry: ids, counts, lists of ids."""


def _tenant_of(execution: ExecutionInput) -> str | None:
    """The tenant an execution is about, when its tags, metadata or input say so."""
    for source in (execution.tags, execution.metadata, execution.input):
        if isinstance(source, Mapping) and isinstance(source.get("tenant_id"), str):
            return str(source["tenant_id"])
    return None


def _wait_timeout(timeout: object) -> timedelta:
    """The timeout of one wait, or `InvalidSpecError` naming the rule it breaks."""
    if not isinstance(timeout, timedelta) or not timedelta(0) < timeout <= MAX_WAIT:
        raise InvalidSpecError.single(
            "timeout",
            f"must be a duration above 0s and at most {format_duration(MAX_WAIT)}",
            subject="request",
        )
    return timeout


def _execution_ids(execution_ids: object) -> list[str]:
    """The ids of a batch read, each checked and duplicates dropped (first order kept), or
    `InvalidSpecError` naming each bad one by its index."""
    if isinstance(execution_ids, str | bytes) or not isinstance(execution_ids, Sequence):
        raise InvalidSpecError.single(
            "execution_ids", "must be a list of execution ids", subject="request"
        )
    if len(execution_ids) > MAX_BATCH:
        raise InvalidSpecError.single(
            "execution_ids", f"must hold at most {MAX_BATCH} ids", subject="request"
        )
    problems: list[Problem] = []
    for index, execution_id in enumerate(execution_ids):
        try:
            validate_execution_id(execution_id)
        except InvalidSpecError as error:
            problems.extend(Problem(f"execution_ids[{index}]", p.rule) for p in error.problems)
    if problems:
        raise InvalidSpecError(problems, subject="request")
    return list(dict.fromkeys(execution_ids))


async def _read_one_by_one(
    provider: Provider, execution_ids: list[str]
) -> dict[str, ExecutionStatus]:
    """Each known id's status through `get_execution_status`, `READ_CONCURRENCY` at a time;
    the first error other than not-found ends the lot and is raised as it is."""
    found: dict[str, ExecutionStatus] = {}
    queue = iter(execution_ids)

    async def reader() -> None:
        for execution_id in queue:
            try:
                found[execution_id] = await provider.get_execution_status(execution_id)
            except ExecutionNotFoundError:
                continue

    try:
        async with asyncio.TaskGroup() as readers:
            for _ in range(min(READ_CONCURRENCY, len(execution_ids))):
                readers.create_task(reader())
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return {i: found[i] for i in execution_ids if i in found}


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
        self, operation: str, provider: Provider, **ids: _Field
    ) -> AsyncIterator[dict[str, _Field]]:
        """Log one line, open one span and record the metrics of one operation; callers may add
        ids as they learn them."""
        fields: dict[str, _Field] = {k: v for k, v in ids.items() if v is not None}
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
                seconds = time.perf_counter() - started
                span.record_exception(error)
                outcome = type(error).__name__
                record_operation(
                    provider=provider.name, operation=operation, outcome=outcome, seconds=seconds
                )
                self._log.warning(
                    "workflow operation failed",
                    operation=operation,
                    provider=provider.name,
                    outcome=outcome,
                    error=str(error),
                    duration_ms=round(seconds * 1000, 2),
                    **fields,
                )
                raise
            seconds = time.perf_counter() - started
            record_operation(
                provider=provider.name, operation=operation, outcome="ok", seconds=seconds
            )
            log = self._log.debug if operation in _POLLING else self._log.info
            log(
                "workflow operation",
                operation=operation,
                provider=provider.name,
                outcome="ok",
                duration_ms=round(seconds * 1000, 2),
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

    async def wait_for_execution(
        self, execution_id: str, *, timeout: timedelta, provider_type: str | None = None
    ) -> ExecutionStatus:
        """The execution's status once it has ended, or as it is when `timeout` passes first
        (never an error for the timeout). The provider waits when it can; otherwise its status
        is polled with backoff."""
        validate_execution_id(execution_id)
        _wait_timeout(timeout)
        provider = self.provider(provider_type)
        async with self._operation(
            "wait_for_execution",
            provider,
            execution_id=execution_id,
            timeout=format_duration(timeout),
        ) as fields:
            if isinstance(provider, WaitsForExecutions):
                status = await provider.wait_for_execution(execution_id, timeout=timeout)
            else:
                status = await poll_until(
                    lambda: provider.get_execution_status(execution_id),
                    done=lambda seen: seen.state.is_terminal,
                    timeout=timeout,
                )
            fields["workflow_id"] = status.workflow_id
            fields["state"] = status.state.value
            return status

    async def get_execution_statuses(
        self, execution_ids: Sequence[str], *, provider_type: str | None = None
    ) -> dict[str, ExecutionStatus]:
        """Many executions' statuses, keyed by id; ids the provider does not know are left out.
        One round trip when the provider can read many at once, else a few reads at a time."""
        ids = _execution_ids(execution_ids)
        provider = self.provider(provider_type)
        async with self._operation(
            "get_execution_statuses", provider, execution_ids=ids, requested=len(ids)
        ) as fields:
            if not ids:
                statuses: dict[str, ExecutionStatus] = {}
            elif isinstance(provider, ReadsManyStatuses):
                statuses = await provider.get_execution_statuses(ids)
            else:
                statuses = await _read_one_by_one(provider, ids)
            fields["found"] = len(statuses)
            return statuses

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

    async def health(self, *, provider_type: str | None = None) -> ProviderHealth:
        """The provider's health report; one without a health check says so, unhealthy."""
        provider = self.provider(provider_type)
        if isinstance(provider, ChecksHealth):
            return await provider.health()
        return ProviderHealth(
            provider_type=provider.name,
            checks=[
                HealthCheck(name="health", ok=False, detail="this provider has no health check")
            ],
        )

    async def aclose(self) -> None:
        """Close every registered provider."""
        for provider in self._registry.providers():
            await provider.aclose()
