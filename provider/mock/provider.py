"""`MockProvider`: an in-memory workflow engine that keeps the full provider contract.

Callers use it to test their own handling of every execution state: each workflow's
executions follow a scripted `MockBehavior` (set in code or in the spec's `provider_config`).
A definition written in Amazon States Language (`StartAt` + `States`) with no behaviour
scripted runs in memory instead, through the same interpreter the deployment runs durably
(`asl`): its output or ASL error is the execution's, its events its history. A Wait waits no
time; HTTP and Lambda tasks call out; `tasks` answers any resource in their place (a
`restate:` one has no other way to run here).
It has both optional capabilities: `wait_for_execution` really waits (woken when the execution
ends, from any thread or event loop), and `get_execution_statuses` reads many under one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import JsonValue

import asl
from sealing import mask_secrets

from .._exceptions import (
    ExecutionConflictError,
    ExecutionNotFoundError,
    InvalidSpecError,
    WorkflowNotFoundError,
)
from ..models import (
    CreateWorkflowResult,
    ExecutionError,
    ExecutionEvent,
    ExecutionInput,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    HealthCheck,
    ProviderHealth,
    WorkflowSpec,
    utcnow,
)
from ..validation import asl_problems
from .behavior import MockBehavior

__all__ = ["MockProvider"]

DEFAULT_TIMEOUT = timedelta(minutes=30)

_FINAL_STATE = {
    "succeed": ExecutionState.SUCCEEDED,
    "fail": ExecutionState.FAILED,
    "time_out": ExecutionState.TIMED_OUT,
}
_EVENT = {
    ExecutionState.RUNNING: "ExecutionRunning",
    ExecutionState.SUCCEEDED: "ExecutionSucceeded",
    ExecutionState.FAILED: "ExecutionFailed",
    ExecutionState.TIMED_OUT: "ExecutionTimedOut",
    ExecutionState.CANCELLED: "ExecutionCancelled",
}


@dataclass
class _Workflow:
    spec: WorkflowSpec
    created_at: datetime


@dataclass
class _Execution:
    execution_id: str
    workflow_id: str
    input: ExecutionInput
    behavior: MockBehavior
    deadline: datetime
    start_time: datetime
    state: ExecutionState
    polls: int = 0
    stop_time: datetime | None = None
    output: JsonValue = None
    error: ExecutionError | None = None
    history: list[ExecutionEvent] = field(default_factory=list)
    asl_output: tuple[JsonValue] | None = None
    """What an ASL definition's run gave (a 1-tuple: its output may be null)."""


@dataclass
class _MachineRun:
    """What running an ASL definition at start came to: the behaviour (succeed, or fail with
    the ASL error name and cause), its output, and its events."""

    behavior: MockBehavior
    output: tuple[JsonValue] | None
    events: list[ExecutionEvent]


_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]
"""Someone waiting for an execution to end: the event to set, and the loop it belongs to."""


class MockProvider:
    """In-memory provider named `mock`; thread-safe; behaviour scripted per workflow."""

    name = "mock"

    def __init__(
        self,
        *,
        default_behavior: MockBehavior | None = None,
        clock: Callable[[], datetime] = utcnow,
        tasks: Mapping[str, asl.TaskHandler] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._tasks = dict(tasks or {})
        self._default = default_behavior or MockBehavior()
        self._behaviors: dict[str, MockBehavior] = {}
        self._workflows: dict[str, _Workflow] = {}
        self._executions: dict[str, _Execution] = {}
        self._waiters: dict[str, list[_Waiter]] = {}

    def set_behavior(self, workflow_id: str, behavior: MockBehavior) -> None:
        """Script the executions of `workflow_id` started from now on (overrides the spec)."""
        with self._lock:
            self._behaviors[workflow_id] = behavior

    async def validate(self, spec: WorkflowSpec) -> None:
        """`provider_config` must describe a valid behaviour, and an ASL definition must be
        one the in-memory runner can run as the specification says."""
        MockBehavior.from_provider_config(spec.provider_config)
        if asl.is_state_machine(spec.definition) and (found := asl_problems(spec.definition)):
            raise InvalidSpecError(found)

    async def create_workflow(self, spec: WorkflowSpec) -> CreateWorkflowResult:
        """Store the definition; the same spec again changes nothing, a new one replaces it."""
        await self.validate(spec)
        with self._lock:
            existing = self._workflows.get(spec.workflow_id)
            if existing is None:
                existing = self._workflows[spec.workflow_id] = _Workflow(spec, self._clock())
                message = "created"
            elif existing.spec == spec:
                message = "unchanged"
            else:
                existing.spec = spec
                message = "updated"
            return CreateWorkflowResult(
                workflow_id=spec.workflow_id,
                provider_type=self.name,
                resource_ids={"workflow": f"mock:workflow:{spec.workflow_id}"},
                created_at=existing.created_at,
                message=message,
            )

    async def start_execution(self, workflow_id: str, input: ExecutionInput) -> ExecutionResult:
        """Start an execution; its id is derived from the workflow and execution name."""
        execution_id = f"{workflow_id}:{input.execution_name}"
        with self._lock:
            workflow = self._workflows.get(workflow_id)
            fresh = execution_id not in self._executions
        machine = await self._run_machine(workflow, input) if workflow and fresh else None
        with self._lock:
            workflow = self._workflows.get(workflow_id)
            if workflow is None:
                raise WorkflowNotFoundError(workflow_id)
            execution = self._executions.get(execution_id)
            if execution is not None:
                if execution.input.input != input.input:
                    raise ExecutionConflictError(
                        workflow_id, input.execution_name, execution_id=execution_id
                    )
                message = "already started"
            else:
                execution = self._start(execution_id, workflow, input, machine)
                message = "started"
            return ExecutionResult(
                execution_id=execution_id,
                workflow_id=workflow_id,
                provider_type=self.name,
                state=execution.state,
                started_at=execution.start_time,
                message=message,
            )

    def _scripted(self, workflow: _Workflow) -> MockBehavior | None:
        return self._behaviors.get(workflow.spec.workflow_id) or (
            MockBehavior.from_provider_config(workflow.spec.provider_config)
            if workflow.spec.provider_config
            else None
        )

    async def _run_machine(self, workflow: _Workflow, input: ExecutionInput) -> _MachineRun | None:
        """Run the workflow's ASL definition on the input at once, when it has one and no
        behaviour is scripted."""
        definition = workflow.spec.definition
        if not asl.is_state_machine(definition) or self._scripted(workflow) is not None:
            return None
        runtime = asl.MemoryRuntime(tasks=self._tasks, clock=self._clock)
        try:
            output = await asl.run_in_memory(
                definition, input.input, name=input.execution_name, runtime=runtime
            )
        except asl.StatesError as error:
            behavior = MockBehavior.fail(code=error.error, message=error.cause or error.error)
            result = None
        else:
            behavior, result = MockBehavior.succeed(), (output,)
        events = [
            ExecutionEvent(
                timestamp=event.at, type=event.type, details={"state": event.state, **event.details}
            )
            for event in runtime.events
        ]
        return _MachineRun(behavior, result, events)

    def _start(
        self,
        execution_id: str,
        workflow: _Workflow,
        input: ExecutionInput,
        machine: _MachineRun | None,
    ) -> _Execution:
        now = self._clock()
        behavior = machine.behavior if machine else self._scripted(workflow) or self._default
        pending = behavior.outcome == "stay_pending"
        execution = _Execution(
            execution_id=execution_id,
            workflow_id=workflow.spec.workflow_id,
            input=input,
            behavior=behavior,
            deadline=now + (workflow.spec.timeout or DEFAULT_TIMEOUT),
            start_time=now,
            state=ExecutionState.PENDING if pending else ExecutionState.RUNNING,
            history=[
                ExecutionEvent(timestamp=now, type="ExecutionStarted"),
                *(machine.events if machine else []),
            ],
            asl_output=machine.output if machine else None,
        )
        self._executions[execution_id] = execution
        self._advance(execution, poll=False)
        return execution

    def _finish(
        self,
        execution: _Execution,
        state: ExecutionState,
        *,
        error: ExecutionError | None = None,
        details: dict[str, JsonValue] | None = None,
    ) -> None:
        now = self._clock()
        execution.state = state
        execution.stop_time = now
        execution.error = error.model_copy(update={"failed_at": now}) if error else None
        if state is ExecutionState.SUCCEEDED:
            behavior_output = execution.behavior.output
            execution.output = execution.input.input if behavior_output is None else behavior_output
            if execution.asl_output is not None:
                execution.output = execution.asl_output[0]
        execution.history.append(
            ExecutionEvent(timestamp=now, type=_EVENT[state], details=details or {})
        )
        for loop, ended in self._waiters.get(execution.execution_id, ()):
            with contextlib.suppress(RuntimeError):  # that waiter's loop has closed
                loop.call_soon_threadsafe(ended.set)

    def _advance(self, execution: _Execution, *, poll: bool) -> None:
        """Move a live execution along its behaviour: one status poll, or the deadline."""
        if execution.state.is_terminal:
            return
        behavior = execution.behavior
        if self._clock() >= execution.deadline:
            final = ExecutionState.TIMED_OUT
        else:
            execution.polls += poll
            scripted = _FINAL_STATE.get(behavior.outcome)
            if scripted is None or execution.polls < behavior.after_polls:
                return
            final = scripted
        if final is ExecutionState.FAILED:
            error = ExecutionError(code=behavior.error_code, message=behavior.error_message)
        else:
            error = ExecutionError(code="Timeout", message="execution exceeded its timeout")
        self._finish(execution, final, error=None if final is ExecutionState.SUCCEEDED else error)

    def _status(self, execution: _Execution) -> ExecutionStatus:
        return ExecutionStatus(
            execution_id=execution.execution_id,
            workflow_id=execution.workflow_id,
            provider_type=self.name,
            state=execution.state,
            execution_name=execution.input.execution_name,
            start_time=execution.start_time,
            stop_time=execution.stop_time,
            input=mask_secrets(execution.input.input),
            output=mask_secrets(execution.output),
            error=execution.error,
            history=list(execution.history),
            metadata={"polls": execution.polls, "trigger_source": execution.input.trigger_source},
        )

    def _get(self, execution_id: str) -> _Execution:
        execution = self._executions.get(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(execution_id)
        return execution

    def _poll(self, execution: _Execution) -> ExecutionStatus:
        """One status read: it counts as a poll for `after_polls`."""
        self._advance(execution, poll=True)
        return self._status(execution)

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """The execution's status; each call counts as one poll for `after_polls`."""
        with self._lock:
            return self._poll(self._get(execution_id))

    async def get_execution_statuses(
        self, execution_ids: Sequence[str]
    ) -> dict[str, ExecutionStatus]:
        """Each known execution's status, all read at one moment; each counts as one poll,
        as its own status read would. Unknown ids are left out."""
        with self._lock:
            known = (self._executions.get(i) for i in dict.fromkeys(execution_ids))
            return {e.execution_id: self._poll(e) for e in known if e is not None}

    async def wait_for_execution(self, execution_id: str, *, timeout: timedelta) -> ExecutionStatus:
        """The status once the execution ends (stopped, its outcome reached by other callers'
        polls, or its deadline), or as it is when `timeout` passes. The call counts as one
        poll, taken when it starts, so an `after_polls` behaviour moves under a waiter too."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout.total_seconds()
        waiter: _Waiter = (loop, asyncio.Event())
        with self._lock:
            execution = self._get(execution_id)
            self._advance(execution, poll=True)
            self._waiters.setdefault(execution_id, []).append(waiter)
        try:
            while True:
                with self._lock:
                    self._advance(execution, poll=False)
                    remaining = give_up - loop.time()
                    if execution.state.is_terminal or remaining <= 0:
                        return self._status(execution)
                    to_deadline = (execution.deadline - self._clock()).total_seconds()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(remaining, to_deadline)):
                        await waiter[1].wait()
        finally:
            with self._lock:
                waiters = self._waiters[execution_id]
                waiters.remove(waiter)
                if not waiters:
                    del self._waiters[execution_id]

    async def stop_execution(self, execution_id: str, reason: str) -> None:
        """Cancel a live execution; a finished one is left as it is."""
        with self._lock:
            execution = self._get(execution_id)
            self._advance(execution, poll=False)
            if execution.state.is_terminal:
                return
            message = reason or "stopped"
            self._finish(
                execution,
                ExecutionState.CANCELLED,
                error=ExecutionError(code="Cancelled", message=message),
                details={"reason": message},
            )

    async def delete_workflow(self, workflow_id: str) -> None:
        """Forget the workflow (its executions stay readable); unknown ids are fine."""
        with self._lock:
            self._workflows.pop(workflow_id, None)

    async def list_executions(
        self, workflow_id: str, *, state: ExecutionState | None = None, limit: int = 100
    ) -> list[ExecutionStatus]:
        """The workflow's executions, newest first (listing does not count as a poll)."""
        with self._lock:
            if workflow_id not in self._workflows:
                raise WorkflowNotFoundError(workflow_id)
            found = [e for e in self._executions.values() if e.workflow_id == workflow_id]
            for execution in found:
                self._advance(execution, poll=False)
            if state is not None:
                found = [e for e in found if e.state is state]
            found.reverse()
            found.sort(key=lambda e: e.start_time, reverse=True)
            return [self._status(e) for e in found[:limit]]

    async def health(self) -> ProviderHealth:
        """Always healthy: the engine is this process's memory, every workflow in it runs."""
        return ProviderHealth(
            provider_type=self.name,
            checks=[HealthCheck(name="engine", ok=True, detail="in memory")],
            workflows=dict.fromkeys(sorted(self._workflow_ids()), True),
        )

    def _workflow_ids(self) -> list[str]:
        with self._lock:
            return list(self._workflows)

    async def aclose(self) -> None:
        """Nothing to release: the mock holds no connections."""
