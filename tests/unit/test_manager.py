"""Manager: validation before routing, routing by type or default, one log line per operation."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from provider import (
    ExecutionInput,
    ExecutionNotFoundError,
    ExecutionState,
    InvalidSpecError,
    Manager,
    ProviderNotFoundError,
    Registry,
    WorkflowSpec,
)
from provider.mock import MockBehavior, MockProvider


class Recording(MockProvider):
    """A mock that remembers which calls reached it."""

    def __init__(self, name: str = "mock") -> None:
        super().__init__()
        self.name = name
        self.calls: list[str] = []

    async def create_workflow(self, spec: WorkflowSpec) -> Any:
        self.calls.append("create_workflow")
        return await super().create_workflow(spec)

    async def start_execution(self, workflow_id: str, input: ExecutionInput) -> Any:
        self.calls.append("start_execution")
        return await super().start_execution(workflow_id, input)


SPEC = {"workflow_id": "tenant-provisioning", "definition": {"steps": ["provision"]}}


def manager(*providers: MockProvider, default: str | None = "mock") -> Manager:
    registry = Registry()
    for provider in providers:
        registry.register(provider)
    return Manager(registry, default_provider=default)


async def test_spec_without_provider_type_goes_to_the_default() -> None:
    mock, other = Recording("mock"), Recording("other")
    result = await manager(mock, other).create_workflow(SPEC)
    assert result.provider_type == "mock"
    assert mock.calls == ["create_workflow"]
    assert other.calls == []


async def test_spec_naming_a_provider_goes_there() -> None:
    mock, other = Recording("mock"), Recording("other")
    result = await manager(mock, other).create_workflow(SPEC | {"provider_type": "other"})
    assert result.provider_type == "other"
    assert other.calls == ["create_workflow"]
    assert mock.calls == []


async def test_unknown_provider_type_is_not_found() -> None:
    with pytest.raises(ProviderNotFoundError, match="'restate' is not registered"):
        await manager(Recording()).create_workflow(SPEC | {"provider_type": "restate"})


async def test_no_provider_and_no_default_is_invalid() -> None:
    with pytest.raises(InvalidSpecError, match="provider_type: is required when no default"):
        await manager(Recording(), default=None).create_workflow(SPEC)


async def test_invalid_input_never_reaches_the_provider() -> None:
    mock = Recording()
    subject = manager(mock)
    with pytest.raises(InvalidSpecError, match="workflow_id"):
        await subject.create_workflow(SPEC | {"workflow_id": "Bad Id"})
    with pytest.raises(InvalidSpecError, match="execution_name"):
        await subject.start_execution("tenant-provisioning", {"execution_name": "has space"})
    with pytest.raises(InvalidSpecError, match="workflow_id"):
        await subject.start_execution("Bad Id", {"execution_name": "ok"})
    with pytest.raises(InvalidSpecError, match="execution_id"):
        await subject.get_execution_status("")
    with pytest.raises(InvalidSpecError, match="limit: must be between 1 and 1000"):
        await subject.list_executions("tenant-provisioning", limit=0)
    assert mock.calls == []


async def test_full_lifecycle_through_the_manager() -> None:
    mock = MockProvider()
    mock.set_behavior("tenant-provisioning", MockBehavior.succeed(after_polls=1))
    subject = manager(mock)
    await subject.create_workflow(SPEC)
    started = await subject.start_execution(
        "tenant-provisioning",
        {"execution_name": "acme-provision-1", "input": {"tenant_id": "acme"}},
    )
    assert started.state is ExecutionState.RUNNING
    status = await subject.get_execution_status(started.execution_id)
    assert status.state is ExecutionState.SUCCEEDED
    listed = await subject.list_executions("tenant-provisioning", state=ExecutionState.SUCCEEDED)
    assert [s.execution_id for s in listed] == [started.execution_id]
    await subject.stop_execution(started.execution_id, reason="done anyway")
    await subject.delete_workflow("tenant-provisioning")
    assert subject.list_providers() == ["mock"]
    await subject.aclose()


async def test_each_operation_logs_one_line_with_its_ids() -> None:
    subject = manager(MockProvider())
    with capture_logs() as logs:
        await subject.create_workflow(SPEC)
        started = await subject.start_execution(
            "tenant-provisioning",
            ExecutionInput(execution_name="acme-1", input={"tenant_id": "acme"}),
        )
        await subject.get_execution_status(started.execution_id)
    assert [entry["operation"] for entry in logs] == [
        "create_workflow",
        "start_execution",
        "get_execution_status",
    ]
    start, status = logs[1], logs[2]
    assert start["workflow_id"] == "tenant-provisioning"
    assert start["execution_id"] == started.execution_id
    assert start["tenant_id"] == "acme"
    assert start["provider"] == "mock"
    assert start["outcome"] == "ok"
    assert start["log_level"] == "info"
    assert isinstance(start["duration_ms"], float)
    assert status["workflow_id"] == "tenant-provisioning"
    assert status["state"] == "succeeded"
    assert status["log_level"] == "debug"  # the polling path stays out of info logs


async def test_failed_operation_is_logged_and_raised() -> None:
    subject = manager(MockProvider())
    with capture_logs() as logs, pytest.raises(ExecutionNotFoundError):
        await subject.get_execution_status("nope")
    assert len(logs) == 1
    assert logs[0]["log_level"] == "warning"
    assert logs[0]["outcome"] == "ExecutionNotFoundError"
    assert logs[0]["execution_id"] == "nope"
    assert "'nope' not found" in logs[0]["error"]


async def test_validate_runs_the_providers_rules() -> None:
    subject = manager(MockProvider())
    parsed = await subject.validate(SPEC | {"provider_config": {"outcome": "fail"}})
    assert parsed.provider_type == "mock"
    with pytest.raises(InvalidSpecError) as raised:
        await subject.validate(SPEC | {"provider_config": {"outcome": "explode"}})
    assert raised.value.problems[0].field == "provider_config.outcome"
