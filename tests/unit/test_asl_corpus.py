"""The in-memory ASL runner against moto's Step Functions interpreter (an implementation
nobody here wrote): every machine of the corpus runs on both, and the outputs (or the error
names) agree. Where moto is known to differ from the specification, the case says so and the
specification wins."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from asl import DefinitionError, StatesError, check, run_in_memory
from tests.aws import fake_aws

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/asl-corpus"
MOTO_EXECUTES = {"stepfunctions": {"execute_state_machine": True}}
DEADLINE_SECONDS = 20.0


@dataclass
class Case:
    """One machine and one input; `moto_differs` says how moto departs from the specification
    (then only the specification's answer, `expected`, is checked)."""

    name: str
    states: dict[str, Any]
    input: Any = field(default_factory=dict)
    expected: Any = None
    moto_differs: str = ""


def _pass(**fields: Any) -> dict[str, Any]:
    return {"Only": {"Type": "Pass", "End": True, **fields}}


def _intrinsic(call: str) -> dict[str, Any]:
    return _pass(Parameters={"value.$": call})


def _choice(rule: dict[str, Any], default: bool = True) -> dict[str, Any]:
    states: dict[str, Any] = {
        "Decide": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True},
    }
    if default:
        states["Decide"]["Default"] = "No"
    return states


DOC = {
    "tenant": {"id": "acme", "plan": "gold", "seats": 12, "active": True},
    "items": [1, 2, 2, 3],
    "text": "a,b;c",
    "at": "2026-12-01T10:00:00Z",
    "limit": 10,
    "nothing": None,
}

CORPUS = [
    Case("pass-result", _pass(Result={"x": 1})),
    Case("pass-through", _pass(), DOC),
    Case(
        "parameters-paths-and-statics",
        _pass(Parameters={"id.$": "$.tenant.id", "fixed": "v", "n": {"seats.$": "$.tenant.seats"}}),
        DOC,
    ),
    Case(
        "parameters-in-arrays",
        _pass(Parameters={"list": [{"a.$": "$.tenant.plan"}, "b"]}),
        DOC,
    ),
    Case("parameters-context", _pass(Parameters={"input.$": "$$.Execution.Input"}), DOC),
    Case("input-path", _pass(InputPath="$.tenant"), DOC),
    Case("input-path-null", _pass(InputPath=None), DOC),
    Case("result-path", _pass(Result={"ok": True}, ResultPath="$.result"), DOC),
    Case("result-path-deep", _pass(Result=7, ResultPath="$.a.b.c"), {"a": {"x": 1}}),
    Case("result-path-null", _pass(Result={"dropped": 1}, ResultPath=None), DOC),
    Case("output-path", _pass(OutputPath="$.tenant.plan"), DOC),
    Case("output-path-null", _pass(OutputPath=None), DOC),
    Case("quoted-names", _pass(Parameters={"v.$": "$['tenant']['id']"}), DOC),
    Case("array-index", _pass(Parameters={"v.$": "$.items[2]"}), DOC),
    Case("missing-path-fails", _pass(Parameters={"v.$": "$.absent"}), DOC),
    Case(
        "format",
        _intrinsic("States.Format('tenant {} has {} seats', $.tenant.id, $.tenant.seats)"),
        DOC,
    ),
    Case(
        "format-escapes",
        _intrinsic("States.Format('it\\'s {}', 'ok')"),
        DOC,
        expected=("SUCCEEDED", {"value": "it's ok"}),
        moto_differs="the specification escapes a quote in a string literal with a "
        "backslash; moto ends the literal there",
    ),
    Case("string-to-json", _intrinsic("States.StringToJson('{\"a\":[1,2]}')"), DOC),
    Case("json-to-string", _intrinsic("States.JsonToString($.tenant)"), DOC),
    Case("array", _intrinsic("States.Array('a', 1, $.tenant.active, $.nothing)"), DOC),
    Case("array-partition", _intrinsic("States.ArrayPartition($.items, 3)"), DOC),
    Case("array-contains", _intrinsic("States.ArrayContains($.items, 3)"), DOC),
    Case("array-range", _intrinsic("States.ArrayRange(1, 9, 2)"), DOC),
    Case("array-get-item", _intrinsic("States.ArrayGetItem($.items, 1)"), DOC),
    Case("array-length", _intrinsic("States.ArrayLength($.items)"), DOC),
    Case("array-unique", _intrinsic("States.ArrayUnique($.items)"), DOC),
    Case("base64-encode", _intrinsic("States.Base64Encode($.tenant.id)"), DOC),
    Case("base64-decode", _intrinsic("States.Base64Decode('YWNtZQ==')"), DOC),
    Case("hash", _intrinsic("States.Hash($.tenant.id, 'SHA-256')"), DOC),
    Case(
        "json-merge",
        _intrinsic('States.JsonMerge($.tenant, States.StringToJson(\'{"plan":"x"}\'), false)'),
        DOC,
    ),
    Case("math-add", _intrinsic("States.MathAdd($.tenant.seats, -2)"), DOC),
    Case("string-split", _intrinsic("States.StringSplit($.text, ',;')"), DOC),
    Case(
        "nested-calls",
        _intrinsic("States.ArrayLength(States.Array(1, 2, States.MathAdd(1, 1)))"),
        DOC,
    ),
    Case(
        "intrinsic-failure",
        _intrinsic("States.ArrayGetItem($.items, 9)"),
        DOC,
        expected=("FAILED", "States.IntrinsicFailure"),
        moto_differs="the specification names a failed intrinsic function "
        "States.IntrinsicFailure; moto says States.Runtime",
    ),
    Case("choice-string", _choice({"Variable": "$.tenant.plan", "StringEquals": "gold"}), DOC),
    Case("choice-numeric", _choice({"Variable": "$.tenant.seats", "NumericGreaterThan": 20}), DOC),
    Case(
        "choice-numeric-path",
        _choice({"Variable": "$.tenant.seats", "NumericGreaterThanPath": "$.limit"}),
        DOC,
    ),
    Case("choice-boolean", _choice({"Variable": "$.tenant.active", "BooleanEquals": True}), DOC),
    Case(
        "choice-timestamp",
        _choice({"Variable": "$.at", "TimestampLessThan": "2027-01-01T00:00:00Z"}),
        DOC,
    ),
    Case("choice-matches", _choice({"Variable": "$.tenant.id", "StringMatches": "ac*"}), DOC),
    Case(
        "choice-and-or-not",
        _choice(
            {
                "And": [
                    {
                        "Or": [
                            {"Variable": "$.tenant.plan", "StringEquals": "silver"},
                            {"Variable": "$.tenant.seats", "NumericLessThanEquals": 12},
                        ]
                    },
                    {"Not": {"Variable": "$.tenant.active", "BooleanEquals": False}},
                ]
            }
        ),
        DOC,
    ),
    Case("choice-is-present", _choice({"Variable": "$.absent", "IsPresent": False}), DOC),
    Case("choice-is-null", _choice({"Variable": "$.nothing", "IsNull": True}), DOC),
    Case("choice-type-mismatch", _choice({"Variable": "$.tenant.id", "NumericEquals": 1}), DOC),
    Case(
        "choice-no-match",
        _choice({"Variable": "$.tenant.plan", "StringEquals": "x"}, False),
        DOC,
        expected=("FAILED", "States.NoChoiceMatched"),
        moto_differs="the specification names it States.NoChoiceMatched; moto says States.Runtime",
    ),
    Case("fail", {"Stop": {"Type": "Fail", "Error": "Tenant.Refused", "Cause": "no seats"}}),
    Case(
        "wait-zero",
        {"W": {"Type": "Wait", "Seconds": 0, "Next": "Done"}, "Done": {"Type": "Succeed"}},
        DOC,
    ),
    Case("succeed-output-path", {"Done": {"Type": "Succeed", "OutputPath": "$.tenant"}}, DOC),
]


def _machine(case: Case) -> dict[str, Any]:
    return {"StartAt": next(iter(case.states)), "States": case.states}


def _ours(case: Case) -> tuple[str, Any]:
    try:
        return "SUCCEEDED", run_in_memory(_machine(case), case.input)
    except StatesError as error:
        return "FAILED", error.error


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        fake_aws(monkeypatch, region=REGION, config=MOTO_EXECUTES),
    ):
        yield boto3.client("stepfunctions", region_name=REGION)


def _moto(sfn: Any, case: Case) -> tuple[str, Any]:
    name = f"{case.name}-{uuid.uuid4().hex[:6]}"
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(_machine(case)), roleArn=ROLE
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
        ({"A": {"Type": "Pass"}}, "needs Next or End: true"),
        ({"A": {"Type": "Pass", "Next": "B"}}, "Next 'B' names no state"),
        ({"A": {"Type": "Task", "Resource": "x", "End": True}}, "Type 'Task' is not supported"),
        ({"A": {"Type": "Choice", "Choices": []}}, "a Choice state needs Choices"),
    ],
)
def test_a_definition_it_cannot_run_is_refused_naming_the_state(
    states: dict[str, Any], rule: str
) -> None:
    with pytest.raises(DefinitionError) as refused:
        check({"StartAt": "A", "States": states})
    assert str(refused.value).startswith("States.A: ")
    assert rule in str(refused.value)


def test_jsonata_is_refused_not_half_run() -> None:
    with pytest.raises(DefinitionError, match="only JSONPath is supported"):
        check({"QueryLanguage": "JSONata", "StartAt": "A", "States": _pass()})


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
    states = _choice(
        {"And": [{"Variable": "$.a", "IsPresent": True}, {"Variable": "$.b[?(@)]", "IsNull": True}]}
    )
    with pytest.raises(DefinitionError) as refused:
        check({"StartAt": "Decide", "States": states})
    assert refused.value.where == "States.Decide.Choices[0].And[1].Variable"
