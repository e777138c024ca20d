"""The mock provider runs an Amazon States Language definition in memory (the states that need
no runtime), unless a behaviour is scripted; a definition it cannot run is refused naming the
state."""

from __future__ import annotations

from typing import Any

import pytest

from provider import ExecutionInput, ExecutionState, InvalidSpecError, WorkflowSpec
from provider.mock import MockBehavior, MockProvider

WF = "tenant-asl"
MACHINE: dict[str, Any] = {
    "StartAt": "Plan",
    "States": {
        "Plan": {
            "Type": "Pass",
            "Parameters": {
                "tenant.$": "$.tenant_id",
                "greeting.$": "States.Format('hi {}', $.tenant_id)",
            },
            "Next": "Big?",
        },
        "Big?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.tenant", "StringEquals": "refused", "Next": "Refuse"}],
            "Default": "Done",
        },
        "Refuse": {"Type": "Fail", "Error": "Tenant.Refused", "Cause": "not this one"},
        "Done": {"Type": "Succeed"},
    },
}  # fmt: skip


async def _run(provider: MockProvider, tenant: str, *, name: str = "run-1") -> Any:
    await provider.create_workflow(WorkflowSpec(workflow_id=WF, definition=MACHINE))
    started = await provider.start_execution(
        WF, ExecutionInput(execution_name=name, input={"tenant_id": tenant})
    )
    return await provider.get_execution_status(started.execution_id)


async def test_an_asl_definition_runs_and_its_output_is_the_executions() -> None:
    status = await _run(MockProvider(), "acme")
    assert status.state is ExecutionState.SUCCEEDED
    assert status.output == {"tenant": "acme", "greeting": "hi acme"}


async def test_a_fail_state_fails_the_execution_with_its_error_name() -> None:
    status = await _run(MockProvider(), "refused")
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert (status.error.code, status.error.message) == ("Tenant.Refused", "not this one")


async def test_a_scripted_behaviour_still_wins() -> None:
    provider = MockProvider()
    provider.set_behavior(WF, MockBehavior.fail(code="Scripted"))
    status = await _run(provider, "acme")
    assert status.error is not None
    assert status.error.code == "Scripted"


@pytest.mark.parametrize(
    ("states", "field", "rule"),
    [
        ({"A": {"Type": "Task", "Resource": "x", "End": True}}, "definition.States.A", "Task"),
        ({"A": {"Type": "Pass", "Next": "Nowhere"}}, "definition.States.A", "names no state"),
    ],
)
async def test_a_definition_it_cannot_run_is_refused_naming_the_state(
    states: dict[str, Any], field: str, rule: str
) -> None:
    spec = WorkflowSpec(workflow_id=WF, definition={"StartAt": "A", "States": states})
    with pytest.raises(InvalidSpecError) as refused:
        await MockProvider().create_workflow(spec)
    assert refused.value.problems[0].field == field
    assert rule in refused.value.problems[0].rule
