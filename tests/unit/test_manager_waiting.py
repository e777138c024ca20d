"""Manager.wait_for_execution and get_execution_statuses: the provider's capability when it
declares one, the plain `Provider` calls when it does not, and input refused before either."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from provider import (
    CreateWorkflowResult,
    ExecutionInput,
    ExecutionNotFoundError,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    InvalidSpecError,
    Manager,
    Provider,
    ProviderUnavailableError,
    ReadsManyStatuses,
    Registry,
    WaitsForExecutions,
    WorkflowSpec,
)
from provider.manager import MAX_BATCH, READ_CONCURRENCY
from provider.mock import MockBehavior, MockProvider

WF = "tenant-provisioning"


class Plain:
    """A provider with only the `Provider` calls (backed by a mock), recording status reads."""

    name = "plain"

    def __init__(self, behavior: MockBehavior) -> None:
        self.engine = MockProvider(default_behavior=behavior)
        self.reads: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.unavailable: set[str] = set()

    async def create_workflow(self, spec: WorkflowSpec) -> CreateWorkflowResult:
        return await self.engine.create_workflow(spec)

    async def start_execution(self, workflow_id: str, input: ExecutionInput) -> ExecutionResult:
        return await self.engine.start_execution(workflow_id, input)

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        self.reads.append(execution_id)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # a round trip: other reads may start meanwhile
            if execution_id in self.unavailable:
                raise ProviderUnavailableError("http://plain", reason="down")
            return await self.engine.get_execution_status(execution_id)
        finally:
            self.in_flight -= 1

    async def stop_execution(self, execution_id: str, reason: str) -> None:
        await self.engine.stop_execution(execution_id, reason)

    async def delete_workflow(self, workflow_id: str) -> None:
        await self.engine.delete_workflow(workflow_id)

    async def validate(self, spec: WorkflowSpec) -> None:
        await self.engine.validate(spec)

    async def list_executions(
        self, workflow_id: str, *, state: ExecutionState | None = None, limit: int = 100
    ) -> list[ExecutionStatus]:
        return await self.engine.list_executions(workflow_id, state=state, limit=limit)

    async def aclose(self) -> None:
        await self.engine.aclose()


class Capable(MockProvider):
    """A mock that records which of its calls the Manager made."""

    name = "capable"

    def __init__(self, behavior: MockBehavior) -> None:
        super().__init__(default_behavior=behavior)
        self.calls: list[str] = []

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        self.calls.append("get_execution_status")
        return await super().get_execution_status(execution_id)

    async def get_execution_statuses(self, execution_ids: Any) -> dict[str, ExecutionStatus]:
        self.calls.append("get_execution_statuses")
        return await super().get_execution_statuses(execution_ids)

    async def wait_for_execution(
        self,
        execution_id: str,
        *,
        timeout: timedelta,
    ) -> ExecutionStatus:
        self.calls.append("wait_for_execution")
        return await super().wait_for_execution(execution_id, timeout=timeout)


def manager_of(provider: Provider) -> Manager:
    registry = Registry()
    registry.register(provider)
    return Manager(registry, default_provider=provider.name)


async def started(manager: Manager, *names: str) -> list[str]:
    await manager.create_workflow({"workflow_id": WF, "definition": {"a": 1}})
    return [
        (await manager.start_execution(WF, {"execution_name": name})).execution_id for name in names
    ]


def test_the_fallback_provider_has_neither_capability() -> None:
    plain = Plain(MockBehavior())
    assert isinstance(plain, Provider)
    assert not isinstance(plain, WaitsForExecutions)
    assert not isinstance(plain, ReadsManyStatuses)
    assert isinstance(MockProvider(), WaitsForExecutions)
    assert isinstance(MockProvider(), ReadsManyStatuses)


async def _stopped_while_waiting(subject: Manager, *, within: float) -> ExecutionStatus:
    """Start a run, wait for it, stop it once the wait is under way: the wait's answer, which
    must come `within` seconds of the stop."""
    [execution_id] = await started(subject, "run")
    waiting = asyncio.create_task(
        subject.wait_for_execution(execution_id, timeout=timedelta(seconds=30))
    )
    ended_early, _ = await asyncio.wait({waiting}, timeout=0.2)
    assert not ended_early
    await subject.stop_execution(execution_id)
    return await asyncio.wait_for(waiting, timeout=within)


async def test_wait_uses_the_providers_own_wait() -> None:
    capable = Capable(MockBehavior.run_forever())
    status = await _stopped_while_waiting(manager_of(capable), within=1)
    assert status.state is ExecutionState.CANCELLED
    assert capable.calls == ["wait_for_execution"]


async def test_wait_without_the_capability_polls_until_the_end() -> None:
    plain = Plain(MockBehavior.succeed(after_polls=3))
    subject = manager_of(plain)
    [execution_id] = await started(subject, "run")
    began = time.monotonic()
    status = await subject.wait_for_execution(execution_id, timeout=timedelta(seconds=30))
    assert time.monotonic() - began < 2  # backoff 0.1 s, 0.2 s: well inside the timeout
    assert status.state is ExecutionState.SUCCEEDED
    assert plain.reads == [execution_id] * 3  # no read after the end


async def test_wait_without_the_capability_keeps_its_timeout() -> None:
    plain = Plain(MockBehavior.run_forever())
    subject = manager_of(plain)
    [execution_id] = await started(subject, "run")
    began = time.monotonic()
    status = await subject.wait_for_execution(execution_id, timeout=timedelta(seconds=0.5))
    assert 0.45 <= time.monotonic() - began < 1.5
    assert status.state is ExecutionState.RUNNING
    assert 2 <= len(plain.reads) <= 5  # backed off, not a busy loop


async def test_wait_without_the_capability_sees_a_stop_at_its_next_read() -> None:
    plain = Plain(MockBehavior.run_forever())
    status = await _stopped_while_waiting(manager_of(plain), within=2.5)  # one backoff step
    assert status.state is ExecutionState.CANCELLED


async def test_wait_on_an_unknown_execution_is_not_found_either_way() -> None:
    for provider in (Plain(MockBehavior()), Capable(MockBehavior())):
        with pytest.raises(ExecutionNotFoundError):
            await manager_of(provider).wait_for_execution("nope", timeout=timedelta(seconds=5))


async def test_batch_uses_the_providers_own_batch() -> None:
    capable = Capable(MockBehavior())
    subject = manager_of(capable)
    ids = await started(subject, "a", "b")
    statuses = await subject.get_execution_statuses([*ids, "nope"])
    assert list(statuses) == ids
    assert capable.calls == ["get_execution_statuses"]


async def test_batch_without_the_capability_reads_a_few_at_a_time() -> None:
    plain = Plain(MockBehavior())
    subject = manager_of(plain)
    ids = await started(subject, *(f"run-{n}" for n in range(20)))
    asked = [*ids[:10], "nope", *ids[10:], ids[0]]
    statuses = await subject.get_execution_statuses(asked)
    assert list(statuses) == ids
    for execution_id in ids:
        assert statuses[execution_id] == await plain.engine.get_execution_status(execution_id)
    assert sorted(plain.reads) == sorted([*ids, "nope"])  # each id read once
    assert 1 < plain.most_in_flight <= READ_CONCURRENCY


async def test_batch_without_the_capability_raises_a_backend_error_as_it_is() -> None:
    plain = Plain(MockBehavior())
    subject = manager_of(plain)
    ids = await started(subject, "a", "b", "c")
    plain.unavailable.add(ids[1])
    with pytest.raises(ProviderUnavailableError, match="cannot reach http://plain: down"):
        await subject.get_execution_statuses(ids)


async def test_an_empty_batch_asks_nobody() -> None:
    capable = Capable(MockBehavior())
    assert await manager_of(capable).get_execution_statuses([]) == {}
    assert capable.calls == []


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (
            ["ok", "", "fine", " padded"],
            "invalid request: execution_ids[1]: must be 1-512 printable characters without "
            "surrounding spaces; execution_ids[3]: must be 1-512 printable characters without "
            "surrounding spaces",
        ),
        ("one-id", "invalid request: execution_ids: must be a list of execution ids"),
        (
            ["x"] * (MAX_BATCH + 1),
            f"invalid request: execution_ids: must hold at most {MAX_BATCH} ids",
        ),
    ],
)
async def test_bad_batch_ids_are_refused_before_any_call(ids: Any, message: str) -> None:
    capable = Capable(MockBehavior())
    with pytest.raises(InvalidSpecError) as raised:
        await manager_of(capable).get_execution_statuses(ids)
    assert str(raised.value) == message
    assert "\n" not in message
    assert capable.calls == []


@pytest.mark.parametrize(
    "timeout", [timedelta(0), timedelta(seconds=-1), timedelta(minutes=16), 5, "1s"]
)
async def test_a_bad_wait_timeout_is_refused_before_any_call(timeout: Any) -> None:
    capable = Capable(MockBehavior())
    with pytest.raises(InvalidSpecError) as raised:
        await manager_of(capable).wait_for_execution("some-id", timeout=timeout)
    assert str(raised.value) == (
        "invalid request: timeout: must be a duration above 0s and at most 15m"
    )
    assert capable.calls == []


async def test_a_bad_execution_id_to_wait_for_is_refused() -> None:
    with pytest.raises(InvalidSpecError, match="execution_id: must be"):
        await manager_of(Capable(MockBehavior())).wait_for_execution(
            "", timeout=timedelta(seconds=1)
        )


async def test_wait_and_batch_log_one_debug_line_with_their_ids() -> None:
    subject = manager_of(Plain(MockBehavior()))
    ids = await started(subject, "a", "b")
    with capture_logs() as logs:
        await subject.wait_for_execution(ids[0], timeout=timedelta(seconds=5))
        await subject.get_execution_statuses([*ids, "nope"])
    wait, batch = logs
    assert (wait["operation"], wait["log_level"], wait["outcome"]) == (
        "wait_for_execution",
        "debug",
        "ok",
    )
    assert (wait["execution_id"], wait["workflow_id"], wait["state"]) == (
        ids[0],
        WF,
        "succeeded",
    )
    assert wait["timeout"] == "5s"
    assert (batch["operation"], batch["log_level"]) == ("get_execution_statuses", "debug")
    assert batch["execution_ids"] == [*ids, "nope"]
    assert (batch["requested"], batch["found"]) == (3, 2)


async def test_a_failed_wait_is_logged_with_its_id() -> None:
    subject = manager_of(Plain(MockBehavior()))
    with capture_logs() as logs, pytest.raises(ExecutionNotFoundError):
        await subject.wait_for_execution("nope", timeout=timedelta(seconds=1))
    [line] = logs
    assert (line["log_level"], line["outcome"], line["execution_id"]) == (
        "warning",
        "ExecutionNotFoundError",
        "nope",
    )
