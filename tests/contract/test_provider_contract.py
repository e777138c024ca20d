"""The contract every provider keeps (see `provider.Provider`), run against each target in
targets.py.

Provider-neutral: nothing here knows which engine is behind the interface. Ids are unique per
test so that targets backed by a shared server do not see each other's workflows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest

from provider import (
    CreateWorkflowResult,
    ExecutionConflictError,
    ExecutionInput,
    ExecutionNotFoundError,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    InvalidSpecError,
    Provider,
    ReadsManyStatuses,
    WaitsForExecutions,
    WorkflowNotFoundError,
    WorkflowSpec,
)

from .targets import ContractTarget


def _id(prefix: str = "contract") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _input(name: str, payload: object = None) -> ExecutionInput:
    return ExecutionInput(execution_name=name, input=payload or {"tenant_id": "acme"})


async def _until_terminal(
    provider: Provider, execution_id: str, target: ContractTarget
) -> ExecutionStatus:
    deadline = time.monotonic() + target.terminal_within.total_seconds()
    while True:
        status = await provider.get_execution_status(execution_id)
        if status.state.is_terminal:
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"{execution_id} not terminal within {target.terminal_within}: {status}")
        await asyncio.sleep(0.05)


def _waiting(provider: Provider) -> WaitsForExecutions:
    """The provider as a waiter, or skip: without the capability the Manager polls instead."""
    if not isinstance(provider, WaitsForExecutions):
        pytest.skip(f"{provider.name} does not declare WaitsForExecutions")
    return provider


def _batching(provider: Provider) -> ReadsManyStatuses:
    """The provider as a batch reader, or skip: without it the Manager reads one by one."""
    if not isinstance(provider, ReadsManyStatuses):
        pytest.skip(f"{provider.name} does not declare ReadsManyStatuses")
    return provider


async def _created(provider: Provider, target: ContractTarget, **kwargs: bool) -> WorkflowSpec:
    spec = target.spec(_id(), **kwargs)
    await provider.create_workflow(spec)
    return spec


def test_name_is_a_string(provider: Provider, target: ContractTarget) -> None:
    assert isinstance(provider.name, str)
    assert provider.name == target.provider


def test_satisfies_the_protocol(provider: Provider) -> None:
    assert isinstance(provider, Provider)


async def test_create_returns_the_workflow(provider: Provider, target: ContractTarget) -> None:
    spec = target.spec(_id())
    result = await provider.create_workflow(spec)
    assert isinstance(result, CreateWorkflowResult)
    assert result.workflow_id == spec.workflow_id
    assert result.provider_type == provider.name
    assert result.created_at.tzinfo is not None


async def test_create_twice_succeeds_and_changes_nothing(
    provider: Provider, target: ContractTarget
) -> None:
    spec = target.spec(_id())
    first = await provider.create_workflow(spec)
    second = await provider.create_workflow(spec)
    assert second.workflow_id == first.workflow_id
    assert second.resource_ids == first.resource_ids
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    assert started.workflow_id == spec.workflow_id


async def test_validate_accepts_a_valid_spec(provider: Provider, target: ContractTarget) -> None:
    await provider.validate(target.spec(_id()))


async def test_start_returns_an_execution(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target)
    result = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    assert isinstance(result, ExecutionResult)
    assert result.execution_id
    assert result.workflow_id == spec.workflow_id
    assert result.provider_type == provider.name
    assert result.started_at.tzinfo is not None


async def test_start_is_idempotent_on_execution_name(
    provider: Provider, target: ContractTarget
) -> None:
    spec = await _created(provider, target)
    name = _id("run")
    first = await provider.start_execution(spec.workflow_id, _input(name, {"tenant_id": "a"}))
    again = await provider.start_execution(spec.workflow_id, _input(name, {"tenant_id": "a"}))
    assert again.execution_id == first.execution_id
    assert again.started_at == first.started_at


async def test_same_name_different_input_conflicts(
    provider: Provider, target: ContractTarget
) -> None:
    spec = await _created(provider, target)
    name = _id("run")
    first = await provider.start_execution(spec.workflow_id, _input(name, {"tenant_id": "a"}))
    with pytest.raises(ExecutionConflictError) as raised:
        await provider.start_execution(spec.workflow_id, _input(name, {"tenant_id": "b"}))
    assert raised.value.execution_name == name
    status = await provider.get_execution_status(first.execution_id)
    assert status.input == {"tenant_id": "a"}


async def test_different_names_are_different_executions(
    provider: Provider, target: ContractTarget
) -> None:
    spec = await _created(provider, target)
    one = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    two = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    assert one.execution_id != two.execution_id


async def test_start_unknown_workflow_is_not_found(provider: Provider) -> None:
    workflow_id = _id("missing")
    with pytest.raises(WorkflowNotFoundError) as raised:
        await provider.start_execution(workflow_id, _input(_id("run")))
    assert raised.value.workflow_id == workflow_id
    assert workflow_id in str(raised.value)


async def test_status_reports_the_execution(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target)
    name = _id("run")
    started = await provider.start_execution(spec.workflow_id, _input(name))
    status = await _until_terminal(provider, started.execution_id, target)
    assert status.execution_id == started.execution_id
    assert status.execution_name == name
    assert status.workflow_id == spec.workflow_id
    assert status.provider_type == provider.name
    assert status.state is ExecutionState.SUCCEEDED
    assert status.input == {"tenant_id": "acme"}
    assert status.start_time is not None
    assert status.stop_time is not None
    assert status.stop_time >= status.start_time
    assert status.error is None


async def test_a_status_never_shows_a_secret(provider: Provider, target: ContractTarget) -> None:
    """Input, output and history show each secret (every `env` value, a `$secret`) masked,
    and a reference as it is, whichever engine ran the execution."""
    marker = f"mk{uuid.uuid4().hex}"
    reference = {"$secret_ref": "env:TOKEN"}
    payload = {
        "tenant_id": "acme",
        "desired_config": {"env": {"DB_PASSWORD": marker, "TOKEN": reference}},
        "metadata": {"note": {"$secret": marker}},
    }
    spec = await _created(provider, target)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run"), payload))
    status = await _until_terminal(provider, started.execution_id, target)
    assert status.state is ExecutionState.SUCCEEDED
    assert marker not in status.model_dump_json()
    assert status.input == {
        "tenant_id": "acme",
        "desired_config": {"env": {"DB_PASSWORD": "***", "TOKEN": reference}},
        "metadata": {"note": "***"},
    }


async def test_status_of_unknown_execution_is_not_found(provider: Provider) -> None:
    with pytest.raises(ExecutionNotFoundError):
        await provider.get_execution_status(_id("missing"))


async def test_stop_of_unknown_execution_is_not_found(provider: Provider) -> None:
    with pytest.raises(ExecutionNotFoundError):
        await provider.stop_execution(_id("missing"), "no such thing")


async def test_stop_cancels_a_live_execution(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target, long_running=True)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    assert not (await provider.get_execution_status(started.execution_id)).state.is_terminal
    await provider.stop_execution(started.execution_id, "operator asked")
    status = await _until_terminal(provider, started.execution_id, target)
    assert status.state is ExecutionState.CANCELLED


async def test_stop_of_finished_execution_changes_nothing(
    provider: Provider, target: ContractTarget
) -> None:
    spec = await _created(provider, target)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    before = await _until_terminal(provider, started.execution_id, target)
    await provider.stop_execution(started.execution_id, "too late")
    after = await provider.get_execution_status(started.execution_id)
    assert after.state is before.state is ExecutionState.SUCCEEDED
    assert after.stop_time == before.stop_time
    assert after.output == before.output
    assert after.error is None


async def test_stop_twice_succeeds(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target, long_running=True)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    await provider.stop_execution(started.execution_id, "first")
    await _until_terminal(provider, started.execution_id, target)
    await provider.stop_execution(started.execution_id, "second")
    status = await provider.get_execution_status(started.execution_id)
    assert status.state is ExecutionState.CANCELLED


async def test_stops_in_a_row_give_one_outcome(provider: Provider, target: ContractTarget) -> None:
    """A control plane retrying its stop: any number of stops, even at once, end it cancelled."""
    spec = await _created(provider, target, long_running=True)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    await asyncio.gather(
        *(provider.stop_execution(started.execution_id, "retry") for _ in range(4))
    )
    status = await _until_terminal(provider, started.execution_id, target)
    await provider.stop_execution(started.execution_id, "once more")
    again = await provider.get_execution_status(started.execution_id)
    assert status.state is again.state is ExecutionState.CANCELLED
    assert again.stop_time == status.stop_time


async def test_the_spec_timeout_holds(provider: Provider, target: ContractTarget) -> None:
    """A workflow that would run forever ends timed_out at its spec's timeout."""
    spec = target.spec(_id(), long_running=True).model_copy(
        update={"timeout": timedelta(seconds=1)}
    )
    await provider.create_workflow(spec)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    status = await _until_terminal(provider, started.execution_id, target)
    assert status.state is ExecutionState.TIMED_OUT


async def test_delete_unknown_workflow_succeeds(provider: Provider) -> None:
    await provider.delete_workflow(_id("missing"))


async def test_delete_twice_succeeds(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target)
    await provider.delete_workflow(spec.workflow_id)
    await provider.delete_workflow(spec.workflow_id)


async def test_deleted_workflow_cannot_start(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target)
    await provider.delete_workflow(spec.workflow_id)
    with pytest.raises(WorkflowNotFoundError):
        await provider.start_execution(spec.workflow_id, _input(_id("run")))


async def test_list_executions_of_a_workflow(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target)
    other = await _created(provider, target)
    ids, names = set(), set()
    for _ in range(3):
        names.add(name := _id("run"))
        started = await provider.start_execution(spec.workflow_id, _input(name))
        ids.add(started.execution_id)
        await _until_terminal(provider, started.execution_id, target)
    await provider.start_execution(other.workflow_id, _input(_id("run")))
    listed = await provider.list_executions(spec.workflow_id)
    assert {status.execution_id for status in listed} == ids
    assert {status.execution_name for status in listed} == names
    assert all(status.workflow_id == spec.workflow_id for status in listed)
    assert len(await provider.list_executions(spec.workflow_id, limit=2)) == 2


async def test_list_executions_filters_by_state(provider: Provider, target: ContractTarget) -> None:
    spec = await _created(provider, target, long_running=True)
    live = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    stopped = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    await provider.stop_execution(stopped.execution_id, "test")
    await _until_terminal(provider, stopped.execution_id, target)
    cancelled = await provider.list_executions(spec.workflow_id, state=ExecutionState.CANCELLED)
    assert [status.execution_id for status in cancelled] == [stopped.execution_id]
    assert live.execution_id not in {status.execution_id for status in cancelled}


async def test_list_executions_of_unknown_workflow_is_not_found(provider: Provider) -> None:
    with pytest.raises(WorkflowNotFoundError):
        await provider.list_executions(_id("missing"))


LONG_WAIT = timedelta(seconds=60)
"""A wait that should never run to its end in these tests."""
PROMPT = 5.0
"""Seconds within which a waiter returns once the execution has ended."""


async def test_wait_returns_as_soon_as_a_live_execution_ends(
    provider: Provider, target: ContractTarget
) -> None:
    waiter = _waiting(provider)
    spec = await _created(provider, target, long_running=True)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    waiting = asyncio.create_task(
        waiter.wait_for_execution(started.execution_id, timeout=LONG_WAIT)
    )
    ended_early, _ = await asyncio.wait({waiting}, timeout=0.5)
    assert not ended_early, "the wait returned while the execution was still live"
    await provider.stop_execution(started.execution_id, "operator asked")
    stopped = time.monotonic()
    status = await asyncio.wait_for(waiting, timeout=LONG_WAIT.total_seconds())
    assert time.monotonic() - stopped < PROMPT
    assert status.execution_id == started.execution_id
    assert status.state is ExecutionState.CANCELLED


async def test_wait_on_a_live_execution_keeps_its_timeout(
    provider: Provider, target: ContractTarget
) -> None:
    waiter = _waiting(provider)
    spec = await _created(provider, target, long_running=True)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    began = time.monotonic()
    status = await waiter.wait_for_execution(started.execution_id, timeout=timedelta(seconds=1))
    waited = time.monotonic() - began
    assert 0.95 <= waited < 2.5
    assert status.execution_id == started.execution_id
    assert not status.state.is_terminal


async def test_wait_on_a_finished_execution_returns_at_once(
    provider: Provider, target: ContractTarget
) -> None:
    waiter = _waiting(provider)
    spec = await _created(provider, target)
    started = await provider.start_execution(spec.workflow_id, _input(_id("run")))
    finished = await _until_terminal(provider, started.execution_id, target)
    began = time.monotonic()
    status = await waiter.wait_for_execution(started.execution_id, timeout=LONG_WAIT)
    assert time.monotonic() - began < PROMPT
    assert status.execution_id == started.execution_id
    assert (status.state, status.stop_time, status.output) == (
        finished.state,
        finished.stop_time,
        finished.output,
    )


async def test_wait_on_unknown_execution_is_not_found(provider: Provider) -> None:
    waiter = _waiting(provider)
    began = time.monotonic()
    with pytest.raises(ExecutionNotFoundError):
        await waiter.wait_for_execution(_id("missing"), timeout=LONG_WAIT)
    assert time.monotonic() - began < PROMPT


async def test_batch_status_equals_the_single_statuses(
    provider: Provider, target: ContractTarget
) -> None:
    batch = _batching(provider)
    done_spec = await _created(provider, target)
    live_spec = await _created(provider, target, long_running=True)
    finished = [
        (await provider.start_execution(done_spec.workflow_id, _input(_id("run")))).execution_id
        for _ in range(2)
    ]
    stopped = await provider.start_execution(live_spec.workflow_id, _input(_id("run")))
    await provider.stop_execution(stopped.execution_id, "test")
    finished.append(stopped.execution_id)
    for execution_id in finished:
        await _until_terminal(provider, execution_id, target)
    live = (await provider.start_execution(live_spec.workflow_id, _input(_id("run")))).execution_id
    unknown = _id("missing")

    statuses = await batch.get_execution_statuses([*finished, unknown, live])

    assert set(statuses) == {*finished, live}
    for execution_id in finished:
        assert statuses[execution_id] == await provider.get_execution_status(execution_id)
    single = await provider.get_execution_status(live)
    assert not statuses[live].state.is_terminal
    for field in ("execution_id", "workflow_id", "provider_type", "start_time", "input"):
        assert getattr(statuses[live], field) == getattr(single, field), field
    assert await batch.get_execution_statuses([]) == {}


def test_invalid_spec_names_field_and_rule() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        WorkflowSpec(workflow_id="Not Valid", definition={"a": 1})
    assert [p.field for p in raised.value.problems] == ["workflow_id"]
    assert "^[a-z0-9-]{1,128}$" in str(raised.value)
