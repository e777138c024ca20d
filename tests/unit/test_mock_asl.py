"""The mock provider runs an Amazon States Language definition in memory, unless a behaviour
is scripted: its output, its ASL error, its history named as Step Functions names it, a Task
answered by a handler given in code; a definition that breaks the specification is refused
naming the state."""

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
        (
            {"A": {"Type": "Task", "Resource": "x", "End": True}},
            "definition.States.A.Resource",
            "is not a resource",
        ),
        ({"A": {"Type": "Pass", "Next": "Nowhere"}}, "definition.States.A.Next", "is not a state"),
        (
            {"A": {"Type": "Pass", "End": True, "QueryLanguage": "JSONata"}},
            "definition.States.A.QueryLanguage",
            "JSONata",
        ),
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


async def test_the_history_names_each_state_as_step_functions_does() -> None:
    status = await _run(MockProvider(), "acme")
    kinds = [(event.type, event.details.get("state")) for event in status.history]
    assert kinds[:3] == [
        ("ExecutionStarted", None),
        ("PassStateEntered", "Plan"),
        ("PassStateExited", "Plan"),
    ]
    assert ("ChoiceStateEntered", "Big?") in kinds
    assert ("SucceedStateEntered", "Done") in kinds
    assert kinds[-1] == ("ExecutionSucceeded", None)


async def test_a_task_is_answered_by_the_handler_given_for_its_resource() -> None:
    seen: list[Any] = []

    async def provision(parameters: Any) -> Any:
        seen.append(parameters)
        return {"endpoint": f"https://{parameters['tenant']}.example"}

    machine = {
        "StartAt": "Provision",
        "States": {
            "Provision": {
                "Type": "Task",
                "Resource": "restate:TenantProvisioning/run",
                "Parameters": {"tenant.$": "$.tenant_id"},
                "ResultPath": "$.result",
                "End": True,
            }
        },
    }
    provider = MockProvider(tasks={"restate:TenantProvisioning/run": provision})
    await provider.create_workflow(WorkflowSpec(workflow_id=WF, definition=machine))
    started = await provider.start_execution(
        WF, ExecutionInput(execution_name="t", input={"tenant_id": "acme"})
    )
    status = await provider.get_execution_status(started.execution_id)
    assert status.output == {"tenant_id": "acme", "result": {"endpoint": "https://acme.example"}}
    assert seen == [{"tenant": "acme"}]
    assert [e.type for e in status.history if e.type.startswith("Task")] == [
        "TaskStateEntered",
        "TaskScheduled",
        "TaskSucceeded",
        "TaskStateExited",
    ]


async def test_a_restate_task_with_no_handler_fails_as_a_task() -> None:
    machine = {
        "StartAt": "Provision",
        "States": {"Provision": {"Type": "Task", "Resource": "restate:X/run", "End": True}},
    }
    provider = MockProvider()
    await provider.create_workflow(WorkflowSpec(workflow_id=WF, definition=machine))
    started = await provider.start_execution(WF, ExecutionInput(execution_name="t", input={}))
    status = await provider.get_execution_status(started.execution_id)
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert status.error.code == "States.TaskFailed"
