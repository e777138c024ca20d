"""MockProvider: scripted behaviours for every state, deadlines, and thread safety."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from provider import (
    ExecutionConflictError,
    ExecutionInput,
    ExecutionState,
    ExecutionStatus,
    InvalidSpecError,
    WorkflowSpec,
)
from provider.mock import MockBehavior, MockProvider

WF = "tenant-provisioning"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def spec(**overrides: object) -> WorkflowSpec:
    return WorkflowSpec(**({"workflow_id": WF, "definition": {"a": 1}} | overrides))


async def started(provider: MockProvider, name: str = "run-1", payload: object = None) -> str:
    await provider.create_workflow(spec())
    result = await provider.start_execution(
        WF, ExecutionInput(execution_name=name, input=payload or {"tenant_id": "acme"})
    )
    return result.execution_id


async def test_default_succeeds_at_once_echoing_the_input() -> None:
    provider = MockProvider()
    execution_id = await started(provider, payload={"tenant_id": "acme", "size": 2})
    status = await provider.get_execution_status(execution_id)
    assert status.state is ExecutionState.SUCCEEDED
    assert status.output == {"tenant_id": "acme", "size": 2}
    assert [event.type for event in status.history] == ["ExecutionStarted", "ExecutionSucceeded"]


async def test_succeeds_after_n_polls() -> None:
    provider = MockProvider()
    provider.set_behavior(WF, MockBehavior.succeed(output={"endpoint": "x"}, after_polls=3))
    execution_id = await started(provider)
    states = [(await provider.get_execution_status(execution_id)).state for _ in range(4)]
    assert states == [ExecutionState.RUNNING] * 2 + [ExecutionState.SUCCEEDED] * 2
    assert (await provider.get_execution_status(execution_id)).output == {"endpoint": "x"}


async def test_fails_with_the_given_error() -> None:
    provider = MockProvider()
    provider.set_behavior(WF, MockBehavior.fail(code="QuotaExceeded", message="no capacity"))
    status = await provider.get_execution_status(await started(provider))
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert (status.error.code, status.error.message) == ("QuotaExceeded", "no capacity")
    assert status.error.failed_at == status.stop_time
    assert status.output is None


async def test_scripted_time_out() -> None:
    provider = MockProvider()
    provider.set_behavior(WF, MockBehavior.time_out(after_polls=1))
    status = await provider.get_execution_status(await started(provider))
    assert status.state is ExecutionState.TIMED_OUT
    assert status.error is not None
    assert status.error.code == "Timeout"


async def test_running_execution_times_out_at_the_workflow_deadline() -> None:
    clock = Clock()
    provider = MockProvider(clock=clock, default_behavior=MockBehavior.run_forever())
    await provider.create_workflow(spec(timeout="10m"))
    result = await provider.start_execution(WF, ExecutionInput(execution_name="r"))
    clock.now += timedelta(minutes=9)
    assert (
        await provider.get_execution_status(result.execution_id)
    ).state is ExecutionState.RUNNING
    clock.now += timedelta(minutes=1)
    status = await provider.get_execution_status(result.execution_id)
    assert status.state is ExecutionState.TIMED_OUT
    assert status.stop_time == clock.now


async def test_stay_pending_until_stopped() -> None:
    provider = MockProvider(default_behavior=MockBehavior.stay_pending())
    execution_id = await started(provider)
    assert (await provider.get_execution_status(execution_id)).state is ExecutionState.PENDING
    await provider.stop_execution(execution_id, "never mind")
    status = await provider.get_execution_status(execution_id)
    assert status.state is ExecutionState.CANCELLED
    assert status.error is not None
    assert status.error.message == "never mind"
    assert status.history[-1].details == {"reason": "never mind"}


async def test_behaviour_from_provider_config() -> None:
    provider = MockProvider()
    await provider.create_workflow(spec(provider_config={"outcome": "fail", "error_code": "E42"}))
    result = await provider.start_execution(WF, ExecutionInput(execution_name="r"))
    status = await provider.get_execution_status(result.execution_id)
    assert status.error is not None
    assert status.error.code == "E42"


async def test_bad_provider_config_is_rejected_naming_the_field() -> None:
    provider = MockProvider()
    with pytest.raises(InvalidSpecError) as raised:
        await provider.create_workflow(spec(provider_config={"outcome": "boom", "after_polls": -1}))
    assert {p.field for p in raised.value.problems} == {
        "provider_config.outcome",
        "provider_config.after_polls",
    }


async def test_recreating_with_a_changed_spec_updates_it() -> None:
    provider = MockProvider()
    first = await provider.create_workflow(spec())
    same = await provider.create_workflow(spec())
    changed = await provider.create_workflow(spec(definition={"a": 2}))
    assert (first.message, same.message, changed.message) == ("created", "unchanged", "updated")
    assert first.created_at == same.created_at == changed.created_at


async def test_concurrent_starts_of_one_name_make_one_execution() -> None:
    provider = MockProvider(default_behavior=MockBehavior.run_forever())
    await provider.create_workflow(spec())
    barrier = threading.Barrier(8)

    def start(i: int) -> str:
        barrier.wait()
        payload = {"n": 1} if i % 2 else {"n": 2}
        try:
            result = asyncio.run(
                provider.start_execution(WF, ExecutionInput(execution_name="one", input=payload))
            )
        except ExecutionConflictError:
            return "conflict"
        return result.execution_id

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(start, range(8)))
    assert outcomes.count("conflict") == 4
    assert {o for o in outcomes if o != "conflict"} == {f"{WF}:one"}
    assert len(await provider.list_executions(WF)) == 1


async def test_list_is_newest_first_and_does_not_count_as_polls() -> None:
    clock = Clock()
    provider = MockProvider(clock=clock)
    provider.set_behavior(WF, MockBehavior.succeed(after_polls=1))
    await provider.create_workflow(spec())
    for name in ("a", "b", "c"):
        await provider.start_execution(WF, ExecutionInput(execution_name=name))
        clock.now += timedelta(seconds=1)
    listed = await provider.list_executions(WF)
    assert [s.execution_id.split(":")[1] for s in listed] == ["c", "b", "a"]
    assert {s.state for s in listed} == {ExecutionState.RUNNING}


async def _live_waiter(
    provider: MockProvider, execution_id: str, *, timeout: timedelta = timedelta(seconds=30)
) -> asyncio.Task[ExecutionStatus]:
    """A wait in the background, checked to be still waiting."""
    waiting = asyncio.create_task(provider.wait_for_execution(execution_id, timeout=timeout))
    ended_early, _ = await asyncio.wait({waiting}, timeout=0.2)
    assert not ended_early
    return waiting


async def test_each_wait_counts_as_one_poll() -> None:
    provider = MockProvider()
    provider.set_behavior(WF, MockBehavior.succeed(after_polls=2))
    execution_id = await started(provider)
    first = await provider.wait_for_execution(execution_id, timeout=timedelta(milliseconds=50))
    assert (first.state, first.metadata["polls"]) == (ExecutionState.RUNNING, 1)
    began = time.monotonic()
    second = await provider.wait_for_execution(execution_id, timeout=timedelta(seconds=30))
    assert time.monotonic() - began < 1
    assert (second.state, second.metadata["polls"]) == (ExecutionState.SUCCEEDED, 2)


async def test_a_waiter_wakes_when_other_polls_reach_the_outcome() -> None:
    provider = MockProvider()
    provider.set_behavior(WF, MockBehavior.fail(code="QuotaExceeded", after_polls=3))
    execution_id = await started(provider)
    waiting = await _live_waiter(provider, execution_id)
    assert (await provider.get_execution_status(execution_id)).state is ExecutionState.RUNNING
    assert (await provider.get_execution_status(execution_id)).state is ExecutionState.FAILED
    status = await asyncio.wait_for(waiting, timeout=1)
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert status.error.code == "QuotaExceeded"


async def test_a_waiter_wakes_when_another_thread_stops_the_execution() -> None:
    provider = MockProvider(default_behavior=MockBehavior.run_forever())
    execution_id = await started(provider)
    waiting = await _live_waiter(provider, execution_id)
    stopper = threading.Thread(
        target=asyncio.run, args=(provider.stop_execution(execution_id, "from elsewhere"),)
    )
    stopper.start()
    stopper.join(timeout=5)
    status = await asyncio.wait_for(waiting, timeout=1)
    assert status.state is ExecutionState.CANCELLED
    assert status.history[-1].details == {"reason": "from elsewhere"}


async def test_a_waiter_returns_at_the_workflow_deadline() -> None:
    provider = MockProvider(default_behavior=MockBehavior.run_forever())
    await provider.create_workflow(spec(timeout="300ms"))
    result = await provider.start_execution(WF, ExecutionInput(execution_name="r"))
    began = time.monotonic()
    status = await provider.wait_for_execution(result.execution_id, timeout=timedelta(seconds=30))
    assert 0.25 <= time.monotonic() - began < 2
    assert status.state is ExecutionState.TIMED_OUT


async def test_many_waiters_of_one_execution_all_wake() -> None:
    provider = MockProvider(default_behavior=MockBehavior.run_forever())
    execution_id = await started(provider)
    waiters = [await _live_waiter(provider, execution_id) for _ in range(3)]
    await provider.stop_execution(execution_id, "all of you")
    statuses = await asyncio.wait_for(asyncio.gather(*waiters), timeout=1)
    assert {status.state for status in statuses} == {ExecutionState.CANCELLED}
    again = await provider.wait_for_execution(execution_id, timeout=timedelta(seconds=30))
    assert again.state is ExecutionState.CANCELLED


async def test_batch_reads_count_as_polls_and_leave_unknown_ids_out() -> None:
    provider = MockProvider()
    provider.set_behavior(WF, MockBehavior.succeed(after_polls=2))
    one, two = await started(provider, "one"), await started(provider, "two")
    first = await provider.get_execution_statuses([one, "nope", two, one])
    assert list(first) == [one, two]
    assert {s.state for s in first.values()} == {ExecutionState.RUNNING}
    second = await provider.get_execution_statuses([two, one])
    assert {s.state for s in second.values()} == {ExecutionState.SUCCEEDED}
    assert second[one] == await provider.get_execution_status(one)
