"""`Provider`: the seam every workflow engine plugs into (mock, Restate, Step Functions), and the
capabilities a provider may declare beside it: `ChecksHealth` (a health report), `StartsUp`
(start-up work, and a health report), `WaitsForExecutions` (wait for an execution to end
instead of being polled) and `ReadsManyStatuses` (many statuses in one round trip). The
`Manager` uses a capability when a provider has it and falls back to the plain `Provider`
calls when it does not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

from .models import (
    CreateWorkflowResult,
    ExecutionInput,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    ProviderHealth,
    WorkflowSpec,
)

__all__ = ["ChecksHealth", "Provider", "ReadsManyStatuses", "StartsUp", "WaitsForExecutions"]


@runtime_checkable
class Provider(Protocol):
    """A workflow engine behind the landlord interface.

    Contract (the shared contract suite checks it for every provider):
    `start_execution` is idempotent on the execution name (same name + same input → same
    execution; different input → `ExecutionConflictError`); creating a workflow twice and
    deleting an unknown one succeed and change nothing; stopping a finished execution succeeds
    and changes nothing; unknown ids raise `WorkflowNotFoundError` / `ExecutionNotFoundError`.
    """

    name: str

    async def create_workflow(self, spec: WorkflowSpec) -> CreateWorkflowResult:
        """Create (or update) the workflow definition in the engine."""
        ...

    async def start_execution(self, workflow_id: str, input: ExecutionInput) -> ExecutionResult:
        """Start one execution, keyed by `input.execution_name`."""
        ...

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """Report the execution's current state, output or error, and history."""
        ...

    async def stop_execution(self, execution_id: str, reason: str) -> None:
        """Stop a running execution gracefully; a finished one is left as it is."""
        ...

    async def delete_workflow(self, workflow_id: str) -> None:
        """Remove the workflow definition; an unknown workflow is not an error."""
        ...

    async def validate(self, spec: WorkflowSpec) -> None:
        """Check engine-specific rules; raise `InvalidSpecError` naming every problem."""
        ...

    async def list_executions(
        self, workflow_id: str, *, state: ExecutionState | None = None, limit: int = 100
    ) -> list[ExecutionStatus]:
        """The workflow's executions, newest first, optionally only those in `state`."""
        ...

    async def aclose(self) -> None:
        """Release connections and other resources."""
        ...


@runtime_checkable
class ChecksHealth(Protocol):
    """A provider that can say whether its engine and workflows are available."""

    async def health(self) -> ProviderHealth:
        """Each check of what it needs, and whether each stored workflow can run; never raises."""
        ...


@runtime_checkable
class StartsUp(ChecksHealth, Protocol):
    """A provider that has work to do when the control plane starts (e.g. registering its
    built-in workflows), and reports its health."""

    async def start(self) -> None:
        """Do the start-up work; a failure is logged (with the endpoint), never raised."""
        ...


@runtime_checkable
class WaitsForExecutions(Protocol):
    """A provider that can wait for an execution to end (instead of being polled)."""

    async def wait_for_execution(self, execution_id: str, *, timeout: timedelta) -> ExecutionStatus:
        """The status once the execution has ended, or as it is when `timeout` passes first
        (never raises for the timeout). Unknown id → `ExecutionNotFoundError`."""
        ...


@runtime_checkable
class ReadsManyStatuses(Protocol):
    """A provider that reads many executions' statuses in one round trip."""

    async def get_execution_statuses(
        self, execution_ids: Sequence[str]
    ) -> dict[str, ExecutionStatus]:
        """Each known id's status (as `get_execution_status` gives it), keyed by id; ids the
        engine does not know are left out."""
        ...
