"""Validation against the npm `asl-validator` (the validator the ecosystem uses, written by
nobody here): on the corpus (valid) and on definitions that each break one rule, it and
`asl.problems` agree on what is valid. Where they part, the case says why, and the
specification decides."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import asl
from tests.asl_corpus import CORPUS, machine_of
from tests.asl_validator import Validator, install_validator


def _pass(**fields: Any) -> dict[str, Any]:
    return {"Type": "Pass", **fields}


def _one(state: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"StartAt": "A", "States": {"A": state, **more}}


def _branch(name: str) -> dict[str, Any]:
    return {"StartAt": name, "States": {name: _pass(End=True)}}


BROKEN: dict[str, dict[str, Any]] = {
    "no-start-at": {"States": {"A": _pass(End=True)}},
    "start-at-nowhere": {"StartAt": "B", "States": {"A": _pass(End=True)}},
    "next-nowhere": _one(_pass(Next="B")),
    "no-next-no-end": _one(_pass()),
    "next-and-end": _one(_pass(Next="B", End=True), B=_pass(End=True)),
    "unknown-type": _one({"Type": "Sleep", "End": True}),
    "task-without-resource": _one({"Type": "Task", "End": True}),
    "choice-without-choices": _one(
        {"Type": "Choice", "Choices": [], "Default": "B"}, B=_pass(End=True)
    ),
    "choice-rule-without-next": _one(
        {"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": True}], "Default": "B"},
        B=_pass(End=True),
    ),
    "choice-with-end": _one(
        {
            "Type": "Choice",
            "Choices": [{"Variable": "$.a", "IsNull": True, "Next": "B"}],
            "End": True,
        },
        B=_pass(End=True),
    ),
    "succeed-with-next": _one({"Type": "Succeed", "Next": "B"}, B=_pass(End=True)),
    "fail-with-end": _one({"Type": "Fail", "End": True}),
    "wait-two-durations": _one(
        {"Type": "Wait", "Seconds": 1, "Timestamp": "2026-01-01T00:00:00Z", "End": True}
    ),
    "wait-no-duration": _one({"Type": "Wait", "End": True}),
    "parallel-without-branches": _one({"Type": "Parallel", "End": True}),
    "map-without-processor": _one({"Type": "Map", "End": True}),
    "map-processor-and-iterator": _one(
        {"Type": "Map", "ItemProcessor": _branch("X"), "Iterator": _branch("Y"), "End": True}
    ),
    "map-selector-and-parameters": _one(
        {
            "Type": "Map",
            "ItemProcessor": _branch("X"),
            "ItemSelector": {},
            "Parameters": {},
            "End": True,
        }
    ),
    "retry-on-pass": _one(_pass(End=True, Retry=[{"ErrorEquals": ["States.ALL"]}])),
    "catch-without-next": _one(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::http:invoke",
            "End": True,
            "Catch": [{"ErrorEquals": ["States.ALL"]}],
        }
    ),
    "retry-empty-error-equals": _one(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::http:invoke",
            "End": True,
            "Retry": [{"ErrorEquals": []}],
        }
    ),
    "retry-reserved-error-name": _one(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::http:invoke",
            "End": True,
            "Retry": [{"ErrorEquals": ["States.Bogus"]}],
        }
    ),
    "task-timeout-and-path": _one(
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::http:invoke",
            "End": True,
            "TimeoutSeconds": 5,
            "TimeoutSecondsPath": "$.t",
        }
    ),
    "input-path-not-a-path": _one(_pass(InputPath="tenant", End=True)),
    "result-path-into-context": _one(_pass(ResultPath="$$.Execution", End=True)),
    "no-terminal-state": {"StartAt": "A", "States": {"A": _pass(Next="B"), "B": _pass(Next="A")}},
    "duplicate-names-in-branches": _one(
        {"Type": "Parallel", "Branches": [_branch("X"), _branch("X")], "End": True}
    ),
    "duplicate-template-field": _one(_pass(Parameters={"a": 1, "a.$": "$.b"}, End=True)),
    "unreachable-state": _one(_pass(End=True), Lost=_pass(End=True)),
}

DIFFERS: dict[str, str] = {
    "choice-with-end": "the specification: a Choice state has no End field; asl-validator "
    "lets one through",
    "retry-empty-error-equals": "the specification: ErrorEquals is a non-empty array; "
    "asl-validator lets an empty one through",
    "retry-reserved-error-name": "the specification: names under the States. prefix are the "
    "language's own; asl-validator lets any through (moto refuses it too: test_asl_corpus)",
    "result-path-into-context": "the specification: ResultPath is a reference path into the "
    "state's input, not the context object; asl-validator lets $$ through",
}
"""Where asl-validator lets through what the specification refuses, and why (the
specification wins: `asl.problems` refuses these)."""


@pytest.fixture(scope="module")
def validator() -> Validator:
    return install_validator(say=lambda message: print(f"[asl-validator] {message}"))


def _ours(definition: dict[str, Any]) -> bool:
    return not asl.problems(copy.deepcopy(definition), resources=False)


def test_the_corpus_is_valid_to_both(validator: Validator) -> None:
    definitions = [machine_of(case) for case in CORPUS]
    verdicts = validator.verdicts(definitions)
    disagree = {
        case.name: errors
        for case, definition, (valid, errors) in zip(CORPUS, definitions, verdicts, strict=True)
        if not valid or not _ours(definition)
    }
    assert disagree == {}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_definition_is_refused_by_both(validator: Validator, name: str) -> None:
    definition = BROKEN[name]
    [(valid, _)] = validator.verdicts([definition])
    if name in DIFFERS:
        assert valid, DIFFERS[name]
    else:
        assert not valid, f"asl-validator let {name} through"
    assert not _ours(definition), f"asl.problems let {name} through"
