"""Validation rules of the interface's models, seen as a caller sees them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from provider import (
    EXECUTION_NAME_PATTERN,
    WORKFLOW_ID_PATTERN,
    ExecutionInput,
    ExecutionState,
    InvalidSpecError,
    RetryPolicy,
    WorkflowSpec,
    format_duration,
    parse_duration,
    validate_execution_id,
    validate_workflow_id,
)


def spec(**overrides: object) -> WorkflowSpec:
    fields: dict[str, object] = {"workflow_id": "tenant-provisioning", "definition": {"a": 1}}
    return WorkflowSpec(**(fields | overrides))


def problems(error: pytest.ExceptionInfo[InvalidSpecError]) -> dict[str, str]:
    return {p.field: p.rule for p in error.value.problems}


@pytest.mark.parametrize(
    "workflow_id", ["tenant-provisioning", "a", "0-9", "x" * 128, "tenant-2-provisioning"]
)
def test_valid_workflow_ids(workflow_id: str) -> None:
    assert spec(workflow_id=workflow_id).workflow_id == workflow_id


@pytest.mark.parametrize(
    "workflow_id", ["", "Tenant", "tenant_provisioning", "x" * 129, "a b", "a/b", "a'; --"]
)
def test_invalid_workflow_ids_name_field_and_rule(workflow_id: str) -> None:
    with pytest.raises(InvalidSpecError) as raised:
        spec(workflow_id=workflow_id)
    assert problems(raised) == {"workflow_id": f"must match {WORKFLOW_ID_PATTERN}"}


@given(st.text(max_size=200))
def test_workflow_id_is_accepted_exactly_when_it_matches_the_rule(text: str) -> None:
    ok = all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in text) and 1 <= len(text) <= 128
    if ok:
        assert spec(workflow_id=text).workflow_id == text
    else:
        with pytest.raises(InvalidSpecError) as raised:
            spec(workflow_id=text)
        assert problems(raised) == {"workflow_id": f"must match {WORKFLOW_ID_PATTERN}"}


@given(st.text(max_size=200))
def test_execution_name_is_accepted_exactly_when_it_matches_the_rule(text: str) -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    ok = set(text) <= allowed and 1 <= len(text) <= 128
    if ok:
        assert ExecutionInput(execution_name=text).execution_name == text
    else:
        with pytest.raises(InvalidSpecError) as raised:
            ExecutionInput(execution_name=text)
        assert str(raised.value) == (
            f"invalid execution input: execution_name: must match {EXECUTION_NAME_PATTERN}"
        )


def test_definition_must_be_a_non_empty_object() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        spec(definition={})
    assert problems(raised) == {"definition": "must not be empty"}
    with pytest.raises(InvalidSpecError) as raised:
        spec(definition=["not", "an", "object"])
    assert list(problems(raised)) == ["definition"]


@pytest.mark.parametrize("timeout", [0, "0s", -5, timedelta(seconds=-1)])
def test_timeout_must_be_positive(timeout: object) -> None:
    with pytest.raises(InvalidSpecError) as raised:
        spec(timeout=timeout)
    assert problems(raised) == {"timeout": "must be > 0"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("1h30m", timedelta(minutes=90)), (45, timedelta(seconds=45))],
)
def test_timeout_accepts_durations(text: object, expected: timedelta) -> None:
    assert spec(timeout=text).timeout == expected


def test_timeout_that_is_not_a_duration_says_how_to_write_one() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        spec(timeout="soon")
    assert problems(raised) == {"timeout": "must be a duration such as 30s, 5m or 1h30m"}


def test_backoff_rate_must_be_at_least_one() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        spec(retry_policy={"backoff_rate": 0.5})
    assert problems(raised) == {"retry_policy.backoff_rate": "must be >= 1.0"}
    assert RetryPolicy(backoff_rate=1).backoff_rate == 1


def test_retry_policy_rules() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        RetryPolicy(max_attempts=0, initial_interval="0s")
    assert problems(raised) == {"max_attempts": "must be >= 1", "initial_interval": "must be > 0"}
    with pytest.raises(InvalidSpecError, match="max_interval must be >= initial_interval"):
        RetryPolicy(initial_interval="10s", max_interval="1s")


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        WorkflowSpec(workflow_id="BAD", definition={}, timeout=0, surprise=True)  # type: ignore[call-arg]
    assert set(problems(raised)) == {"workflow_id", "definition", "timeout", "surprise"}
    assert problems(raised)["surprise"] == "is not a known field"


def test_missing_fields_are_named() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        WorkflowSpec.model_validate({})
    assert problems(raised) == {"workflow_id": "is required", "definition": "is required"}


def test_no_pydantic_error_or_traceback_reaches_the_caller() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        WorkflowSpec.model_validate_json('{"workflow_id": "x", "definition": {}}')
    assert not isinstance(raised.value, ValidationError)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__
    assert "pydantic" not in str(raised.value)


def test_name_defaults_to_the_workflow_id() -> None:
    assert spec().name == "tenant-provisioning"
    assert spec(name="Tenant provisioning").name == "Tenant provisioning"


def test_specs_round_trip_through_json() -> None:
    original = spec(timeout="1h30m", retry_policy={"max_attempts": 5}, tags={"team": "infra"})
    dumped = json.loads(original.model_dump_json())
    assert dumped["timeout"] == "1h30m"
    assert WorkflowSpec.model_validate(dumped) == original


def test_models_are_immutable() -> None:
    with pytest.raises(ValidationError):
        spec().workflow_id = "other"  # type: ignore[misc]


def test_terminal_states() -> None:
    assert {s for s in ExecutionState if s.is_terminal} == {
        ExecutionState.SUCCEEDED,
        ExecutionState.FAILED,
        ExecutionState.TIMED_OUT,
        ExecutionState.CANCELLED,
    }
    assert [s.value for s in ExecutionState] == [
        "pending",
        "running",
        "succeeded",
        "failed",
        "timed_out",
        "cancelled",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500ms", timedelta(milliseconds=500)),
        ("2d", timedelta(days=2)),
        ("1.5s", timedelta(seconds=1.5)),
        ("90", timedelta(seconds=90)),
        (" 5M ", timedelta(minutes=5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "m", "5 minutes", "1h-5m", True, None, [1]])
def test_parse_duration_rejects_nonsense(text: object) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**10))
def test_format_duration_round_trips(milliseconds: int) -> None:
    value = timedelta(milliseconds=milliseconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("bad", ["", " x", "x\n", "\x00", "a" * 513, 42])
def test_execution_ids_are_checked(bad: object) -> None:
    with pytest.raises(InvalidSpecError, match="execution_id"):
        validate_execution_id(bad)


def test_request_ids_pass_through_when_valid() -> None:
    assert validate_execution_id("inv_1abc:xyz") == "inv_1abc:xyz"
    assert validate_workflow_id("tenant-provisioning") == "tenant-provisioning"
    with pytest.raises(InvalidSpecError, match="workflow_id"):
        validate_workflow_id("../etc")
