"""StepFunctionsProvider against moto's in-process Step Functions, which runs the ASL.

moto is started with `execute_state_machine` so that executions really move: Pass and Fail
states, Wait states (until stopped), TimeoutSeconds and StopExecution all behave. What moto does
not show, and so these tests use botocore's Stubber or a fake client for: throttling, 5xx,
access denied and unknown clients, connection errors, paging (moto answers in one page), and
the cause StopExecution sends (moto drops it: an aborted execution has an empty cause there).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from structlog.testing import capture_logs

from provider import (
    AuthenticationError,
    ExecutionConflictError,
    ExecutionInput,
    ExecutionNotFoundError,
    ExecutionState,
    ExecutionStatus,
    InvalidSpecError,
    Provider,
    ProviderUnavailableError,
    WorkflowError,
    WorkflowNotFoundError,
    WorkflowSpec,
)
from provider.config.settings import StepFunctionsSettings
from provider.stepfunctions import (
    MAX_NAME,
    StepFunctionsProvider,
    parse_execution_arn,
    sfn_execution_name,
    state_machine_arn,
)
from provider.stepfunctions.mapping import error_of, state_of
from provider.validation import asl_problems
from tests.contract.targets import (
    MOTO_EXECUTES,
    SFN_REGION,
    SFN_ROLE_ARN,
    fake_aws_credentials,
    moto_sfn_client,
    stop_running_executions,
)

ACCOUNT = "123456789012"
SECRET = "sfn-s3cr3t-never-logged"
SFN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MACHINE = f"arn:aws:states:{SFN_REGION}:{ACCOUNT}:stateMachine:tenant-provisioning"
EXECUTION = f"arn:aws:states:{SFN_REGION}:{ACCOUNT}:execution:tenant-provisioning:run-1"


def asl(**states: Any) -> dict[str, Any]:
    """A document starting at the first state given."""
    return {"StartAt": next(iter(states)), "States": dict(states)}


PASS = asl(Plan={"Type": "Pass", "Next": "Provision"}, Provision={"Type": "Pass", "End": True})
WAIT = asl(Provision={"Type": "Wait", "Seconds": 3600, "End": True})
SUCCEED: dict[str, Any] = {"Type": "Succeed"}
FAIL = asl(Provision={"Type": "Fail", "Error": "QuotaExceeded", "Cause": "no capacity left"})


def spec(definition: dict[str, Any], workflow_id: str = "tenant-provisioning", **extra: Any) -> Any:
    return WorkflowSpec(workflow_id=workflow_id, definition=definition, **extra)


def run(name: str = "run-1", payload: object = None) -> ExecutionInput:
    return ExecutionInput(execution_name=name, input=payload or {"tenant_id": "acme"})


def sfn_settings(**overrides: Any) -> StepFunctionsSettings:
    return StepFunctionsSettings(**{"region": SFN_REGION, "role_arn": SFN_ROLE_ARN, **overrides})


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials, no shared AWS config, and moto executing state machines."""
    fake_aws_credentials(monkeypatch)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    with mock_aws(config=MOTO_EXECUTES):
        try:
            yield
        finally:
            stop_running_executions()


@pytest.fixture
async def sfn(aws: None) -> AsyncIterator[StepFunctionsProvider]:
    provider = StepFunctionsProvider(sfn_settings(), client_factory=moto_sfn_client)
    try:
        yield provider
    finally:
        await provider.aclose()


async def until_terminal(
    provider: Provider, execution_id: str, *, last_event: str | None = None
) -> ExecutionStatus:
    """Poll until terminal (and, if given, until the history ends with `last_event`: moto,
    like Step Functions, may show the new status before the matching history event)."""
    deadline = time.monotonic() + 10
    while True:
        status = await provider.get_execution_status(execution_id)
        done = last_event is None or (status.history and status.history[-1].type == last_event)
        if status.state.is_terminal and done:
            return status
        assert time.monotonic() < deadline, f"{execution_id} still {status.state}"
        await asyncio.sleep(0.02)


# -- Amazon States Language checks --------------------------------------------------------


def problems(definition: dict[str, Any]) -> list[str]:
    return [str(p) for p in asl_problems(definition, resources=False, jsonata=True)]


def test_a_sound_document_has_no_problems() -> None:
    document = asl(
        Route={
            "Type": "Choice",
            "Choices": [{"Variable": "$.op", "StringEquals": "delete", "Next": "Delete"}],
            "Default": "Provision",
        },
        Provision={
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            "Next": "Settle",
        },
        Settle={"Type": "Wait", "Seconds": 5, "Next": "Fan"},
        Fan={
            "Type": "Parallel",
            "Branches": [asl(A={"Type": "Pass", "End": True})],
            "Next": "Each",
        },
        Each={
            "Type": "Map",
            "ItemProcessor": asl(B={"Type": "Succeed"}),
            "End": True,
        },
        Delete={"Type": "Succeed"},
        Failed={"Type": "Fail", "Error": "Provision"},
    )
    assert problems(document) == []


def test_an_unresolved_next_names_the_state() -> None:
    document = asl(Provision={"Type": "Pass", "Next": "Nope"}, Done={"Type": "Succeed"})
    assert "definition.States.Provision.Next: 'Nope' is not a state" in problems(document)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"States": {"A": {"Type": "Succeed"}}}, "definition.StartAt: is required"),
        (
            {"StartAt": "Missing", "States": {"A": {"Type": "Succeed"}}},
            "definition.StartAt: 'Missing' is not a state",
        ),
        ({"StartAt": "A", "States": {}}, "definition.States: must be a non-empty object"),
        ({"StartAt": "A"}, "definition.States: must be a non-empty object"),
        (asl(A={"Type": "Teleport", "End": True}), "definition.States.A.Type: must be one of"),
        (asl(A={"End": True}), "definition.States.A.Type: is required"),
        (asl(A="Pass"), "definition.States.A: must be an object"),
        (asl(A={"Type": "Task", "End": True}), "definition.States.A.Resource: is required"),
        (asl(A={"Type": "Choice", "Default": "B"}, B={"Type": "Succeed"}), "A.Choices: must"),
        (
            asl(A={"Type": "Choice", "Choices": [{"Next": "Z"}], "Default": "B"}, B={"End": 1}),
            "definition.States.A.Choices[0].Next: 'Z' is not a state",
        ),
        (
            asl(A={"Type": "Choice", "Choices": [{"Next": "B"}], "Default": "Y"}, B=SUCCEED),
            "definition.States.A.Default: 'Y' is not a state",
        ),
        (asl(A={"Type": "Choice", "Choices": [{}]}), "definition.States.A.Choices[0].Next: is"),
        (asl(A={"Type": "Wait", "End": True}), "definition.States.A: a Wait state needs exactly"),
        (
            asl(A={"Type": "Wait", "Seconds": 1, "Timestamp": "2030-01-01T00:00:00Z", "End": True}),
            "definition.States.A: a Wait state needs exactly one of",
        ),
        (asl(A={"Type": "Parallel", "End": True}), "definition.States.A.Branches: must be"),
        (
            asl(A={"Type": "Parallel", "Branches": [asl(X={"Type": "Pass", "Next": "Q"})]}),
            "definition.States.A.Branches[0].States.X.Next: 'Q' is not a state",
        ),
        (asl(A={"Type": "Map", "End": True}), "definition.States.A.ItemProcessor: is required"),
        (
            asl(A={"Type": "Map", "Iterator": {"StartAt": "X"}, "End": True}),
            "definition.States.A.Iterator.States: must be a non-empty object",
        ),
        (
            asl(A={"Type": "Pass", "Next": "B"}, B={"Type": "Pass", "Next": "A"}),
            "definition.States: needs a terminal state (End: true, Succeed or Fail)",
        ),
        (asl(A={"Type": "Pass"}), "definition.States.A: must have Next or End: true"),
        (
            asl(A={"Type": "Pass", "Next": "B", "End": True}, B=SUCCEED),
            "definition.States.A: must have either Next or End: true, not both",
        ),
        (asl(A={"Type": "Succeed", "Next": "A"}), "definition.States.A.Next: is not allowed"),
        (
            asl(A={"Type": "Succeed"}, Orphan={"Type": "Succeed"}),
            "definition.States.Orphan: is not reachable from StartAt 'A'",
        ),
        (
            asl(A={"Type": "Task", "Resource": "r", "Catch": [{"ErrorEquals": []}], "End": True}),
            "definition.States.A.Catch[0].Next: is required",
        ),
        (
            {**asl(A={"Type": "Succeed"}), "TimeoutSeconds": 0},
            "definition.TimeoutSeconds: must be a positive whole number of seconds",
        ),
    ],
)
def test_each_structural_rule_names_the_state(document: dict[str, Any], expected: str) -> None:
    found = problems(document)
    assert any(expected in problem for problem in found), found


async def test_validate_lists_every_problem_without_calling_aws() -> None:
    provider = StepFunctionsProvider(sfn_settings(), client_factory=_no_calls)
    bad = spec(
        asl(Provision={"Type": "Task", "Next": "Nope"}),
        workflow_id="w" * 81,
        provider_config={"memory": 3},
    )
    with pytest.raises(InvalidSpecError) as raised:
        await provider.validate(bad)
    fields = [problem.field for problem in raised.value.problems]
    assert fields == [
        "workflow_id",
        "provider_config.memory",
        "definition.States.Provision.Resource",
        "definition.States.Provision.Next",
        "definition.States",
    ]
    assert "at most 80 characters" in str(raised.value)


def _no_calls() -> Any:
    raise AssertionError("this operation must not reach AWS")


# -- names -------------------------------------------------------------------------------


def test_short_execution_names_are_used_as_they_are() -> None:
    assert sfn_execution_name("acme-provision-3f2a") == "acme-provision-3f2a"
    assert sfn_execution_name("x" * MAX_NAME) == "x" * MAX_NAME


def test_long_execution_names_map_to_a_prefix_and_a_hash() -> None:
    name = "tenant-" + "a" * 100 + "-provision"
    mapped = sfn_execution_name(name)
    assert len(mapped) == 80
    assert SFN_NAME.fullmatch(mapped)
    assert mapped == name[:63] + "-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    assert sfn_execution_name(name) == mapped


def test_long_names_sharing_a_prefix_stay_apart() -> None:
    base = "t" * 63
    assert sfn_execution_name(base + "-provision-rev-1" + "x" * 10) != sfn_execution_name(
        base + "-provision-rev-2" + "x" * 10
    )


@settings(max_examples=60, deadline=None)
@given(st.sets(st.text(alphabet="ab09_-", min_size=81, max_size=128), min_size=2, max_size=8))
def test_mapped_names_are_valid_deterministic_and_distinct(names: set[str]) -> None:
    mapped = {sfn_execution_name(name) for name in names}
    assert len(mapped) == len(names)
    assert all(SFN_NAME.fullmatch(name) for name in mapped)
    assert mapped == {sfn_execution_name(name) for name in names}


def test_state_machine_arn_comes_from_the_roles_account_and_partition() -> None:
    assert (
        state_machine_arn(
            role_arn="arn:aws-cn:iam::210987654321:role/sfn",
            region="cn-north-1",
            workflow_id="tenants",
        )
        == "arn:aws-cn:states:cn-north-1:210987654321:stateMachine:tenants"
    )


@pytest.mark.parametrize(
    "execution_id",
    [
        "missing-123",
        "inv_18Ud0FJ0DPk83E2DMvOumBopeafiZquBb8",
        f"arn:aws:states:{SFN_REGION}:{ACCOUNT}:stateMachine:tenant-provisioning",
        f"arn:aws:states:{SFN_REGION}:{ACCOUNT}:execution:tenant provisioning:run",
        f"arn:aws:states:{SFN_REGION}:12345:execution:tenant-provisioning:run",
        EXECUTION + ":extra",
    ],
)
def test_malformed_execution_arns_are_not_found(execution_id: str) -> None:
    with pytest.raises(ExecutionNotFoundError):
        parse_execution_arn(execution_id)


def test_an_execution_arn_names_its_workflow() -> None:
    parsed = parse_execution_arn(EXECUTION)
    assert (parsed.workflow_id, parsed.name, parsed.region) == (
        "tenant-provisioning",
        "run-1",
        SFN_REGION,
    )
    assert parsed.machine_arn == MACHINE


# -- status mapping ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state", "sub_state"),
    [
        ("RUNNING", ExecutionState.RUNNING, "running"),
        ("SUCCEEDED", ExecutionState.SUCCEEDED, "succeeded"),
        ("FAILED", ExecutionState.FAILED, "failed"),
        ("TIMED_OUT", ExecutionState.TIMED_OUT, "failed"),
        ("ABORTED", ExecutionState.CANCELLED, "failed"),
        ("PENDING_REDRIVE", ExecutionState.PENDING, "backing-off"),
    ],
)
def test_every_status_maps_to_a_state(status: str, state: ExecutionState, sub_state: str) -> None:
    assert state_of(status)[:2] == (state, sub_state)


def test_running_sub_states_come_from_the_last_event() -> None:
    waiting = [{"type": "ExecutionStarted"}, {"type": "WaitStateEntered"}]
    retrying = [{"type": "TaskStarted"}, {"type": "TaskFailed"}]
    assert state_of("RUNNING", waiting) == (ExecutionState.RUNNING, "waiting", 0)
    assert state_of("RUNNING", retrying) == (ExecutionState.RUNNING, "backing-off", 1)


def test_errors_say_why_an_execution_did_not_succeed() -> None:
    stopped = error_of({"status": "ABORTED", "cause": "operator asked"})
    timed_out = error_of({"status": "TIMED_OUT"})
    assert stopped is not None
    assert (stopped.code, stopped.message) == (
        "Cancelled",
        "operator asked",
    )
    assert timed_out is not None
    assert timed_out.code == "States.Timeout"
    assert error_of({"status": "SUCCEEDED"}) is None


# -- against moto --------------------------------------------------------------------------


def test_construction_performs_no_io() -> None:
    provider = StepFunctionsProvider(sfn_settings(), client_factory=_no_calls)
    assert isinstance(provider, Provider)
    assert provider.name == "step-functions"
    StepFunctionsProvider(sfn_settings(assume_role_arn="arn:aws:iam::123456789012:role/x"))


async def test_create_is_idempotent_and_updates_what_changed(sfn: StepFunctionsProvider) -> None:
    first = await sfn.create_workflow(spec(PASS))
    again = await sfn.create_workflow(spec(PASS))
    changed = await sfn.create_workflow(spec(WAIT))
    assert (first.message, again.message, changed.message) == ("created", "unchanged", "updated")
    assert first.resource_ids == again.resource_ids == {"state_machine_arn": MACHINE}
    assert first.created_at.tzinfo is not None
    assert again.created_at == first.created_at
    described = moto_sfn_client().describe_state_machine(stateMachineArn=MACHINE)
    assert json.loads(described["definition"])["States"] == WAIT["States"]
    assert described["type"] == "STANDARD"
    assert described["roleArn"] == SFN_ROLE_ARN


async def test_a_new_role_updates_the_state_machine(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    role = f"arn:aws:iam::{ACCOUNT}:role/another"
    other = StepFunctionsProvider(sfn_settings(role_arn=role), client_factory=moto_sfn_client)
    assert (await other.create_workflow(spec(PASS))).message == "updated"
    described = moto_sfn_client().describe_state_machine(stateMachineArn=MACHINE)
    assert described["roleArn"] == role


async def test_a_new_type_is_refused_naming_the_setting(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    express = StepFunctionsProvider(
        sfn_settings(state_machine_type="EXPRESS"), client_factory=moto_sfn_client
    )
    with pytest.raises(InvalidSpecError) as raised:
        await express.create_workflow(spec(PASS))
    assert raised.value.problems[0].field == "workflow.step_functions.state_machine_type"
    assert "delete the workflow first" in str(raised.value)


async def test_express_state_machines_are_created_as_express(aws: None) -> None:
    express = StepFunctionsProvider(
        sfn_settings(state_machine_type="EXPRESS"), client_factory=moto_sfn_client
    )
    await express.create_workflow(spec(PASS))
    described = moto_sfn_client().describe_state_machine(stateMachineArn=MACHINE)
    assert described["type"] == "EXPRESS"


@pytest.mark.parametrize(
    ("definition", "spec_timeout", "expected"),
    [
        (PASS, timedelta(minutes=30), 1800),
        (PASS, timedelta(seconds=1.2), 2),
        ({**PASS, "TimeoutSeconds": 60}, timedelta(minutes=30), 60),
        (PASS, None, None),
    ],
)
async def test_the_specs_timeout_becomes_timeout_seconds(
    sfn: StepFunctionsProvider,
    definition: dict[str, Any],
    spec_timeout: timedelta | None,
    expected: int | None,
) -> None:
    await sfn.create_workflow(spec(definition, timeout=spec_timeout))
    described = moto_sfn_client().describe_state_machine(stateMachineArn=MACHINE)
    assert json.loads(described["definition"]).get("TimeoutSeconds") == expected


async def test_the_timeout_reaches_the_execution(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(WAIT, timeout=timedelta(seconds=1)))
    started = await sfn.start_execution("tenant-provisioning", run())
    status = await until_terminal(sfn, started.execution_id)
    assert status.state is ExecutionState.TIMED_OUT
    assert status.error is not None
    assert status.error.code == "States.Timeout"


async def test_an_execution_runs_to_success_with_its_history(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    started = await sfn.start_execution("tenant-provisioning", run())
    assert started.execution_id == EXECUTION
    assert started.state is ExecutionState.RUNNING
    status = await until_terminal(sfn, started.execution_id)
    assert status.state is ExecutionState.SUCCEEDED
    assert status.workflow_id == "tenant-provisioning"
    assert status.input == status.output == {"tenant_id": "acme"}
    assert status.start_time is not None
    assert status.start_time.tzinfo is UTC
    assert status.stop_time is not None
    assert status.stop_time >= status.start_time
    assert status.error is None
    types = [event.type for event in status.history]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert "PassStateEntered" in types
    assert status.history[0].details["input"] == {"tenant_id": "acme"}
    assert status.history[0].details["roleArn"] == SFN_ROLE_ARN
    assert status.metadata["sub_state"] == "succeeded"
    assert status.metadata["sfn_execution_name"] == "run-1"


async def test_a_failed_execution_reports_error_and_cause(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(FAIL))
    started = await sfn.start_execution("tenant-provisioning", run())
    status = await until_terminal(sfn, started.execution_id)
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert (status.error.code, status.error.cause) == ("QuotaExceeded", "no capacity left")
    assert status.output is None


async def test_a_waiting_execution_says_so(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(WAIT))
    started = await sfn.start_execution("tenant-provisioning", run())
    deadline = time.monotonic() + 5
    while (status := await sfn.get_execution_status(started.execution_id)).metadata[
        "sub_state"
    ] != "waiting":
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.02)
    assert status.state is ExecutionState.RUNNING


async def test_long_execution_names_are_mapped(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(WAIT))
    name = "tenant-3f2a9c1e-7d4b-4e8a-9b6f-1c2d3e4f5a6b-tenant-provisioning-provision-rev-12"
    name += "-cfg-" + "ab" * 20
    assert len(name) > 80
    first = await sfn.start_execution("tenant-provisioning", run(name))
    again = await sfn.start_execution("tenant-provisioning", run(name))
    assert first.execution_id == again.execution_id
    assert first.execution_id.endswith(":" + sfn_execution_name(name))
    with pytest.raises(ExecutionConflictError) as raised:
        await sfn.start_execution("tenant-provisioning", run(name, {"tenant_id": "other"}))
    assert raised.value.execution_name == name


async def test_a_finished_execution_is_found_again_by_name(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    first = await sfn.start_execution("tenant-provisioning", run())
    await until_terminal(sfn, first.execution_id)
    again = await sfn.start_execution("tenant-provisioning", run())
    assert (again.execution_id, again.started_at) == (first.execution_id, first.started_at)
    assert (again.state, again.message) == (ExecutionState.SUCCEEDED, "already started")
    with pytest.raises(ExecutionConflictError) as raised:
        await sfn.start_execution("tenant-provisioning", run("run-1", {"tenant_id": "other"}))
    assert raised.value.execution_id == first.execution_id


async def test_unknown_workflows_are_not_found(sfn: StepFunctionsProvider) -> None:
    for workflow_id in ("missing", "w" * 81):
        with pytest.raises(WorkflowNotFoundError):
            await sfn.start_execution(workflow_id, run())
        with pytest.raises(WorkflowNotFoundError):
            await sfn.list_executions(workflow_id)
        await sfn.delete_workflow(workflow_id)


async def test_unknown_executions_are_not_found(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    elsewhere = EXECUTION.replace(SFN_REGION, "eu-west-1")
    for execution_id in (EXECUTION, EXECUTION.replace("tenant-provisioning", "gone"), elsewhere):
        with pytest.raises(ExecutionNotFoundError):
            await sfn.get_execution_status(execution_id)
        with pytest.raises(ExecutionNotFoundError):
            await sfn.stop_execution(execution_id, "no such thing")


async def test_malformed_ids_are_refused_before_any_call() -> None:
    provider = StepFunctionsProvider(sfn_settings(), client_factory=_no_calls)
    with pytest.raises(ExecutionNotFoundError):
        await provider.get_execution_status("not-an-arn")
    with pytest.raises(ExecutionNotFoundError):
        await provider.stop_execution("arn:aws:states:::execution:x", "why")


async def test_stop_cancels_and_a_second_stop_changes_nothing(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(WAIT))
    started = await sfn.start_execution("tenant-provisioning", run())
    await sfn.stop_execution(started.execution_id, "operator asked")
    stopped = await until_terminal(sfn, started.execution_id, last_event="ExecutionAborted")
    await sfn.stop_execution(started.execution_id, "again")
    after = await sfn.get_execution_status(started.execution_id)
    assert stopped.state is after.state is ExecutionState.CANCELLED
    assert after.stop_time == stopped.stop_time
    assert after.history[-1].type == "ExecutionAborted"


class _Counting:
    """The moto client, counting the calls made through it by operation."""

    def __init__(self) -> None:
        self.client = moto_sfn_client()
        self.calls: list[str] = []

    def __getattr__(self, operation: str) -> Any:
        self.calls.append(operation)
        return getattr(self.client, operation)


@pytest.fixture
async def counted(aws: None) -> AsyncIterator[tuple[StepFunctionsProvider, _Counting]]:
    client = _Counting()
    provider = StepFunctionsProvider(sfn_settings(), client_factory=lambda: client)
    try:
        yield provider, client
    finally:
        await provider.aclose()


async def test_wait_backs_off_and_keeps_its_timeout(
    counted: tuple[StepFunctionsProvider, _Counting],
) -> None:
    provider, client = counted
    await provider.create_workflow(spec(WAIT))
    started = await provider.start_execution("tenant-provisioning", run())
    client.calls.clear()
    began = time.monotonic()
    status = await provider.wait_for_execution(started.execution_id, timeout=timedelta(seconds=1.5))
    assert 1.45 <= time.monotonic() - began < 2.0
    assert status.state is ExecutionState.RUNNING
    # Reads at 0, 0.1, 0.3, 0.7 and 1.5 s, then the whole status once (every 0.1 s would be 16).
    assert 5 <= client.calls.count("describe_execution") <= 7
    assert client.calls.count("get_execution_history") == 1


async def test_wait_for_a_finished_execution_reads_it_once(
    counted: tuple[StepFunctionsProvider, _Counting],
) -> None:
    provider, client = counted
    await provider.create_workflow(spec(FAIL))
    started = await provider.start_execution("tenant-provisioning", run())
    finished = await until_terminal(provider, started.execution_id)
    client.calls.clear()
    status = await provider.wait_for_execution(started.execution_id, timeout=timedelta(seconds=30))
    assert client.calls == ["describe_execution", "describe_execution", "get_execution_history"]
    assert (status.state, status.error) == (ExecutionState.FAILED, finished.error)


async def test_wait_for_unknown_executions_is_not_found(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    with pytest.raises(ExecutionNotFoundError):
        await sfn.wait_for_execution(EXECUTION, timeout=timedelta(seconds=30))
    unchecked = StepFunctionsProvider(sfn_settings(), client_factory=_no_calls)
    with pytest.raises(ExecutionNotFoundError):
        await unchecked.wait_for_execution("not-an-arn", timeout=timedelta(seconds=30))


async def test_list_filters_by_state_and_limits(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(WAIT))
    ids = [
        (await sfn.start_execution("tenant-provisioning", run(f"r{i}"))).execution_id
        for i in range(4)
    ]
    await sfn.stop_execution(ids[0], "done with it")
    await until_terminal(sfn, ids[0])
    everything = await sfn.list_executions("tenant-provisioning")
    running = await sfn.list_executions("tenant-provisioning", state=ExecutionState.RUNNING)
    cancelled = await sfn.list_executions("tenant-provisioning", state=ExecutionState.CANCELLED)
    assert {s.execution_id for s in everything} == set(ids)
    assert {s.execution_id for s in running} == set(ids[1:])
    assert [s.execution_id for s in cancelled] == [ids[0]]
    assert cancelled[0].metadata["sfn_status"] == "ABORTED"
    assert len(await sfn.list_executions("tenant-provisioning", limit=2)) == 2


async def test_delete_removes_the_state_machine(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    await sfn.delete_workflow("tenant-provisioning")
    await sfn.delete_workflow("tenant-provisioning")
    with pytest.raises(WorkflowNotFoundError):
        await sfn.start_execution("tenant-provisioning", run())


async def test_the_default_client_uses_the_standard_chain_and_no_secret_is_logged(
    aws: None,
) -> None:
    provider = StepFunctionsProvider(sfn_settings())
    with capture_logs() as logs:
        await provider.create_workflow(spec(PASS))
        started = await provider.start_execution("tenant-provisioning", run())
        await until_terminal(provider, started.execution_id)
    await provider.aclose()
    assert logs
    assert SECRET not in repr(logs)


async def test_assume_role_arn_is_assumed_before_the_client_is_made(aws: None) -> None:
    other_account = "111111111111"
    provider = StepFunctionsProvider(
        sfn_settings(
            role_arn=f"arn:aws:iam::{other_account}:role/sfn",
            assume_role_arn=f"arn:aws:iam::{other_account}:role/landlord",
        )
    )
    created = await provider.create_workflow(spec(PASS))
    assert f":{other_account}:stateMachine:" in created.resource_ids["state_machine_arn"]
    started = await provider.start_execution("tenant-provisioning", run())
    assert (await until_terminal(provider, started.execution_id)).state is ExecutionState.SUCCEEDED
    client = provider._client
    provider._expires_at = datetime.now(UTC)  # the assumed credentials are about to expire
    await provider.get_execution_status(started.execution_id)
    assert provider._client is not client
    await provider.aclose()


async def test_a_missing_role_is_named(aws: None) -> None:
    provider = StepFunctionsProvider(StepFunctionsSettings(), client_factory=moto_sfn_client)
    with pytest.raises(ProviderUnavailableError, match=r"workflow\.step_functions\.role_arn"):
        await provider.create_workflow(spec(PASS))


async def test_no_credentials_is_an_authentication_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_aws_credentials(monkeypatch)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    provider = StepFunctionsProvider(sfn_settings())
    with pytest.raises(AuthenticationError, match="no usable AWS credentials"):
        await provider.get_execution_status(EXECUTION)


# -- errors moto does not produce: botocore's Stubber and a fake client -------------------


_stub_sessions: list[boto3.session.Session] = []


@pytest.fixture
def stubbed() -> Iterator[tuple[StepFunctionsProvider, Stubber]]:
    """A provider whose client answers from botocore's Stubber (one warm session for all)."""
    if not _stub_sessions:
        _stub_sessions.append(boto3.session.Session())
    client = _stub_sessions[0].client(
        "stepfunctions",
        region_name=SFN_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key=SECRET,
    )
    with Stubber(client) as stubber:
        yield StepFunctionsProvider(sfn_settings(), client_factory=lambda: client), stubber
        stubber.assert_no_pending_responses()


RUNNING_EXECUTION = {
    "executionArn": EXECUTION,
    "stateMachineArn": MACHINE,
    "name": "run-1",
    "status": "RUNNING",
    "startDate": datetime(2026, 1, 1, tzinfo=UTC),
    "input": '{"tenant_id":"acme"}',
}


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, ProviderUnavailableError),
        ("InternalFailure", 500, ProviderUnavailableError),
        ("ServiceUnavailable", 503, ProviderUnavailableError),
        ("AccessDeniedException", 400, AuthenticationError),
        ("UnrecognizedClientException", 400, AuthenticationError),
        ("ExecutionDoesNotExist", 400, ExecutionNotFoundError),
        ("InvalidArn", 400, ExecutionNotFoundError),
        ("SomethingNew", 400, WorkflowError),
    ],
)
async def test_status_errors_map_to_the_interface(
    stubbed: tuple[StepFunctionsProvider, Stubber],
    code: str,
    status: int,
    expected: type[WorkflowError],
) -> None:
    provider, stubber = stubbed
    message = f"User: arn:aws:iam::{ACCOUNT}:user/ops with key {SECRET} is not allowed"
    stubber.add_client_error("describe_execution", code, message, http_status_code=status)
    with pytest.raises(expected) as raised:
        await provider.get_execution_status(EXECUTION)
    assert type(raised.value) is expected
    if expected in (ProviderUnavailableError, AuthenticationError):
        assert f"https://states.{SFN_REGION}.amazonaws.com" in str(raised.value)
    if expected is AuthenticationError:
        assert SECRET not in str(raised.value)
        assert code in str(raised.value)


@pytest.mark.parametrize(
    ("operation", "code", "call", "expected", "field"),
    [
        ("start_execution", "StateMachineDoesNotExist", "start", WorkflowNotFoundError, None),
        ("start_execution", "StateMachineDeleting", "start", WorkflowNotFoundError, None),
        ("start_execution", "InvalidExecutionInput", "start", InvalidSpecError, "input"),
        ("start_execution", "InvalidName", "start", InvalidSpecError, "execution_name"),
        ("create_state_machine", "InvalidName", "create", InvalidSpecError, "workflow_id"),
        ("list_executions", "StateMachineDoesNotExist", "list", WorkflowNotFoundError, None),
        ("list_executions", "ThrottlingException", "list", ProviderUnavailableError, None),
        ("create_state_machine", "InvalidDefinition", "create", InvalidSpecError, "definition"),
        ("create_state_machine", "AccessDeniedException", "create", AuthenticationError, None),
        ("delete_state_machine", "ThrottlingException", "delete", ProviderUnavailableError, None),
    ],
)
async def test_operation_errors_map_to_the_interface(
    stubbed: tuple[StepFunctionsProvider, Stubber],
    operation: str,
    code: str,
    call: str,
    expected: type[WorkflowError],
    field: str | None,
) -> None:
    provider, stubber = stubbed
    if call == "create":
        stubber.add_client_error("describe_state_machine", "StateMachineDoesNotExist")
    stubber.add_client_error(operation, code, "refused")
    actions: dict[str, Callable[[], Awaitable[object]]] = {
        "start": lambda: provider.start_execution("tenant-provisioning", run()),
        "list": lambda: provider.list_executions("tenant-provisioning"),
        "create": lambda: provider.create_workflow(spec(PASS)),
        "delete": lambda: provider.delete_workflow("tenant-provisioning"),
    }
    with pytest.raises(expected) as raised:
        await actions[call]()
    if field is not None:
        assert isinstance(raised.value, InvalidSpecError)
        assert raised.value.problems[0].field == field


async def test_a_conflicting_start_compares_the_inputs(
    stubbed: tuple[StepFunctionsProvider, Stubber],
) -> None:
    provider, stubber = stubbed
    stubber.add_client_error("start_execution", "ExecutionAlreadyExists")
    stubber.add_response("describe_execution", RUNNING_EXECUTION, {"executionArn": EXECUTION})
    with pytest.raises(ExecutionConflictError) as raised:
        await provider.start_execution("tenant-provisioning", run(payload={"tenant_id": "b"}))
    assert raised.value.execution_id == EXECUTION


async def test_stop_sends_the_reason_as_the_cause(
    stubbed: tuple[StepFunctionsProvider, Stubber],
) -> None:
    provider, stubber = stubbed
    stubber.add_response("describe_execution", RUNNING_EXECUTION, {"executionArn": EXECUTION})
    stubber.add_response(
        "stop_execution",
        {"stopDate": datetime(2026, 1, 1, tzinfo=UTC)},
        {"executionArn": EXECUTION, "cause": "operator asked"},
    )
    await provider.stop_execution(EXECUTION, "operator asked")


async def test_stop_of_an_execution_that_vanished_is_not_found(
    stubbed: tuple[StepFunctionsProvider, Stubber],
) -> None:
    provider, stubber = stubbed
    stubber.add_response("describe_execution", RUNNING_EXECUTION, {"executionArn": EXECUTION})
    stubber.add_client_error("stop_execution", "ExecutionDoesNotExist")
    with pytest.raises(ExecutionNotFoundError):
        await provider.stop_execution(EXECUTION, "too late")


async def test_history_and_listings_are_paged(
    stubbed: tuple[StepFunctionsProvider, Stubber],
) -> None:
    provider, stubber = stubbed
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    stubber.add_response("describe_execution", RUNNING_EXECUTION, {"executionArn": EXECUTION})
    history = {"executionArn": EXECUTION, "maxResults": 1000, "includeExecutionData": True}
    stubber.add_response(
        "get_execution_history",
        {"events": [{"timestamp": stamp, "type": "ExecutionStarted", "id": 1}], "nextToken": "p2"},
        history,
    )
    stubber.add_response(
        "get_execution_history",
        {"events": [{"timestamp": stamp, "type": "WaitStateEntered", "id": 2}]},
        {**history, "nextToken": "p2"},
    )
    status = await provider.get_execution_status(EXECUTION)
    assert [event.type for event in status.history] == ["ExecutionStarted", "WaitStateEntered"]
    assert status.metadata["sub_state"] == "waiting"

    def item(index: int) -> dict[str, Any]:
        return {
            "executionArn": f"{EXECUTION}{index}",
            "stateMachineArn": MACHINE,
            "name": f"run-1{index}",
            "status": "ABORTED",
            "startDate": stamp,
        }

    listing = {"stateMachineArn": MACHINE, "maxResults": 3, "statusFilter": "ABORTED"}
    stubber.add_response(
        "list_executions", {"executions": [item(1), item(2)], "nextToken": "p2"}, listing
    )
    stubber.add_response(
        "list_executions",
        {"executions": [item(3), item(4)], "nextToken": "p3"},
        {**listing, "nextToken": "p2"},
    )
    found = await provider.list_executions(
        "tenant-provisioning", state=ExecutionState.CANCELLED, limit=3
    )
    assert [s.execution_id for s in found] == [f"{EXECUTION}{i}" for i in (1, 2, 3)]
    assert all(s.state is ExecutionState.CANCELLED for s in found)


class _Unreachable:
    """A client whose every call fails to connect, as botocore reports it."""

    def __getattr__(self, operation: str) -> Any:
        def call(**_: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="http://localhost:4566/")

        return call


async def test_an_unreachable_endpoint_is_named() -> None:
    provider = StepFunctionsProvider(
        sfn_settings(endpoint_url="http://localhost:4566"), client_factory=_Unreachable
    )
    with pytest.raises(ProviderUnavailableError) as raised:
        await provider.start_execution("tenant-provisioning", run())
    assert raised.value.endpoint == "http://localhost:4566"
    assert "EndpointConnectionError" in str(raised.value)
    with pytest.raises(ProviderUnavailableError):
        await provider.create_workflow(spec(PASS))
    report = await provider.health()
    assert not report.healthy
    assert "EndpointConnectionError" in report.checks[0].detail


async def test_health_is_one_call_that_answers(sfn: StepFunctionsProvider) -> None:
    report = await sfn.health()
    assert report.healthy
    assert [(c.name, c.ok) for c in report.checks] == [("Step Functions API", True)]


async def test_aclose_releases_the_client(sfn: StepFunctionsProvider) -> None:
    await sfn.create_workflow(spec(PASS))
    assert sfn._client is not None
    await sfn.aclose()
    assert sfn._client is None
    await sfn.aclose()
    assert (await sfn.create_workflow(spec(PASS))).message == "unchanged"
