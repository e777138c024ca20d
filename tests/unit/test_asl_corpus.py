"""The in-memory ASL runner against moto's Step Functions interpreter (an implementation
nobody here wrote): every machine of the corpus runs on both, and the outputs (or the error
names) agree; the mock provider, which runs ASL with that runner, ends each the same. Where
moto is known to differ from the specification, the case says so and the specification wins."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

import asl
from asl import DefinitionError, StatesError, check, run_in_memory
from provider import ExecutionInput, ExecutionState, WorkflowSpec
from provider.mock import MockProvider
from tests.asl_corpus import (
    CORPUS,
    ECHO_FUNCTION,
    REGION,
    Case,
    choice_states,
    machine_of,
    pass_states,
)
from tests.aws import SIMPLE_LAMBDA, echo_function, fake_aws

ROLE = "arn:aws:iam::123456789012:role/asl-corpus"
MOTO_EXECUTES = {**SIMPLE_LAMBDA, "stepfunctions": {"execute_state_machine": True}}
DEADLINE_SECONDS = 20.0


def _ours(case: Case) -> tuple[str, Any]:
    try:
        return "SUCCEEDED", asyncio.run(run_in_memory(machine_of(case), case.input))
    except StatesError as error:
        return "FAILED", error.error


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        fake_aws(monkeypatch, region=REGION, config=MOTO_EXECUTES),
    ):
        echo_function(ECHO_FUNCTION, region_name=REGION)
        yield boto3.client("stepfunctions", region_name=REGION)


def _moto(sfn: Any, case: Case) -> tuple[str, Any]:
    name = f"{case.name}-{uuid.uuid4().hex[:6]}"
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(machine_of(case)), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(case.input))
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        if described["status"] != "RUNNING":
            break
        assert time.monotonic() < deadline, f"{case.name} still running on moto"
        time.sleep(0.02)
    if described["status"] == "SUCCEEDED":
        output = described.get("output") or "null"
        try:
            return "SUCCEEDED", json.loads(output)
        except ValueError:  # moto writes a string output bare, not as JSON
            return "SUCCEEDED", output
    return str(described["status"]), described.get("error")


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_the_runner_agrees_with_moto(sfn: Any, case: Case) -> None:
    ours = _ours(case)
    if case.moto_differs:
        assert ours == case.expected, case.moto_differs
        return
    assert ours == _moto(sfn, case)


def test_the_corpus_covers_every_intrinsic_but_the_random_ones() -> None:
    from asl import FUNCTIONS

    used = {name for case in CORPUS for name in FUNCTIONS if name in json.dumps(case.states)}
    assert set(FUNCTIONS) - used == {"States.MathRandom", "States.UUID"}


@pytest.mark.parametrize(
    ("states", "rule"),
    [
        ({"A": {"Type": "Pass"}}, "must have Next or End: true"),
        ({"A": {"Type": "Pass", "Next": "B"}}, "'B' is not a state"),
        ({"A": {"Type": "Task", "Resource": "x", "End": True}}, "is not a resource"),
        ({"A": {"Type": "Choice", "Choices": []}}, "must be a non-empty list of rules"),
    ],
)
def test_a_definition_it_cannot_run_is_refused_naming_the_state(
    states: dict[str, Any], rule: str
) -> None:
    with pytest.raises(DefinitionError) as refused:
        check({"StartAt": "A", "States": states})
    assert str(refused.value).startswith("States.A")
    assert rule in str(refused.value)


def test_jsonata_is_refused_not_half_run() -> None:
    with pytest.raises(DefinitionError, match="only JSONPath is supported"):
        check({"QueryLanguage": "JSONata", "StartAt": "A", "States": pass_states()})


@pytest.mark.parametrize(
    ("state", "field", "rule"),
    [
        ({"InputPath": "$.items[*]"}, "States.A.InputPath", "is not a reference path"),
        ({"ResultPath": "$$.Execution"}, "States.A.ResultPath", "cannot write to the context"),
        ({"Parameters": {"a": {"b.$": "tenant"}}}, "States.A.Parameters.a.b.$", "starts with $"),
        ({"Parameters": {"x.$": "States.Nope(1)"}}, "States.A.Parameters.x.$", "not an intrinsic"),
        ({"Parameters": {"x.$": "States.Format('{}'"}}, "States.A.Parameters.x.$", "parenthesis"),
        ({"ResultSelector": [{"y.$": "$..z"}]}, "States.A.ResultSelector[0].y.$", "reference"),
    ],
)
def test_a_bad_path_or_call_is_refused_at_check_naming_the_field(
    state: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(DefinitionError) as refused:
        check({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, **state}}})
    assert refused.value.where == field
    assert rule in refused.value.rule


def test_a_bad_choice_path_is_refused_naming_the_rule() -> None:
    states = choice_states(
        {"And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.b[?(@)]", "IsNull": True}]}
    )
    with pytest.raises(DefinitionError) as refused:
        check({"StartAt": "Decide", "States": states})
    assert refused.value.where == "States.Decide.Choices[0].And[1].Variable"


def _retrying_on(name: str) -> dict[str, Any]:
    branch = {"StartAt": "X", "States": {"X": {"Type": "Fail", "Error": "Tenant.Failed"}}}
    retry = [{"ErrorEquals": [name], "MaxAttempts": 0}]
    return {
        "StartAt": "A",
        "States": {"A": {"Type": "Parallel", "Branches": [branch], "Retry": retry, "End": True}},
    }


@pytest.mark.parametrize(
    ("name", "defined"),
    [
        ("States.Bogus", False),
        ("States.Http.StatusCode.99", False),
        ("States.BranchFailed", True),
        ("States.HeartbeatTimeout", True),
        ("Tenant.States.Anything", True),
    ],
)
def test_the_reserved_prefix_names_only_the_languages_errors_as_moto_says(
    sfn: Any, name: str, defined: bool
) -> None:
    definition = _retrying_on(name)
    ours = not asl.problems(definition, resources=False)
    try:
        sfn.create_state_machine(
            name=f"reserved-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition), roleArn=ROLE
        )
        moto = True
    except sfn.exceptions.ClientError:
        moto = False
    assert (ours, moto) == (defined, defined)


async def _on_the_mock(case: Case) -> tuple[str, Any]:
    provider = MockProvider()
    workflow_id = f"corpus-{uuid.uuid4().hex[:8]}"
    await provider.create_workflow(
        WorkflowSpec(workflow_id=workflow_id, definition=machine_of(case))
    )
    started = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="run", input=case.input)
    )
    status = await provider.wait_for_execution(started.execution_id, timeout=timedelta(seconds=30))
    if status.state is ExecutionState.SUCCEEDED:
        return "SUCCEEDED", status.output
    assert status.error is not None, status
    return str(status.state.value).upper(), status.error.code


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_the_mock_provider_ends_every_machine_as_the_runner_does(sfn: Any, case: Case) -> None:
    assert asyncio.run(_on_the_mock(case)) == _ours(case)
