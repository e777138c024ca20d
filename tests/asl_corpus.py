"""The ASL corpus: state machines with an input each, run on every engine that runs ASL here
(moto's Step Functions interpreter, the mock, Restate) by the differential tests. A case says
where moto departs from the specification; then only the specification's answer counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CORPUS",
    "DOC",
    "ECHO_FUNCTION",
    "REGION",
    "Case",
    "choice_states",
    "machine_of",
    "pass_states",
]

REGION = "us-east-1"
ECHO_FUNCTION = "asl-echo"
"""The Lambda function the corpus calls: every engine's AWS (moto) has it answer with its event."""
_ECHO_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:{ECHO_FUNCTION}"
_MISSING_ARN = f"arn:aws:lambda:{REGION}:123456789012:function:asl-nowhere"


@dataclass
class Case:
    """One machine and one input; `moto_differs` says how moto departs from the specification
    (then only the specification's answer, `expected`, is checked)."""

    name: str
    states: dict[str, Any]
    input: Any = field(default_factory=dict)
    expected: Any = None
    moto_differs: str = ""


def pass_states(**fields: Any) -> dict[str, Any]:
    return {"Only": {"Type": "Pass", "End": True, **fields}}


def _intrinsic(call: str) -> dict[str, Any]:
    return pass_states(Parameters={"value.$": call})


def choice_states(rule: dict[str, Any], default: bool = True) -> dict[str, Any]:
    states: dict[str, Any] = {
        "Decide": {"Type": "Choice", "Choices": [{**rule, "Next": "Yes"}]},
        "Yes": {"Type": "Pass", "Result": "yes", "End": True},
        "No": {"Type": "Pass", "Result": "no", "End": True},
    }
    if default:
        states["Decide"]["Default"] = "No"
    else:  # an unreachable state is refused
        del states["No"]
    return states


def _branch(states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def _pass_to(path: str, name: str = "P") -> dict[str, Any]:
    return {name: {"Type": "Pass", "InputPath": path, "End": True}}


DOC = {
    "tenant": {"id": "acme", "plan": "gold", "seats": 12, "active": True},
    "items": [1, 2, 2, 3],
    "text": "a,b;c",
    "at": "2026-12-01T10:00:00Z",
    "limit": 10,
    "nothing": None,
}

CORPUS = [
    Case("pass-result", pass_states(Result={"x": 1})),
    Case("pass-through", pass_states(), DOC),
    Case(
        "parameters-paths-and-statics",
        pass_states(
            Parameters={"id.$": "$.tenant.id", "fixed": "v", "n": {"seats.$": "$.tenant.seats"}}
        ),
        DOC,
    ),
    Case(
        "parameters-in-arrays",
        pass_states(Parameters={"list": [{"a.$": "$.tenant.plan"}, "b"]}),
        DOC,
    ),
    Case("parameters-context", pass_states(Parameters={"input.$": "$$.Execution.Input"}), DOC),
    Case("input-path", pass_states(InputPath="$.tenant"), DOC),
    Case("input-path-null", pass_states(InputPath=None), DOC),
    Case("result-path", pass_states(Result={"ok": True}, ResultPath="$.result"), DOC),
    Case("result-path-deep", pass_states(Result=7, ResultPath="$.a.b.c"), {"a": {"x": 1}}),
    Case("result-path-null", pass_states(Result={"dropped": 1}, ResultPath=None), DOC),
    Case("output-path", pass_states(OutputPath="$.tenant.plan"), DOC),
    Case("output-path-null", pass_states(OutputPath=None), DOC),
    Case("quoted-names", pass_states(Parameters={"v.$": "$['tenant']['id']"}), DOC),
    Case("array-index", pass_states(Parameters={"v.$": "$.items[2]"}), DOC),
    Case("missing-path-fails", pass_states(Parameters={"v.$": "$.absent"}), DOC),
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
    Case(
        "choice-string", choice_states({"Variable": "$.tenant.plan", "StringEquals": "gold"}), DOC
    ),
    Case(
        "choice-numeric",
        choice_states({"Variable": "$.tenant.seats", "NumericGreaterThan": 20}),
        DOC,
    ),
    Case(
        "choice-numeric-path",
        choice_states({"Variable": "$.tenant.seats", "NumericGreaterThanPath": "$.limit"}),
        DOC,
    ),
    Case(
        "choice-boolean", choice_states({"Variable": "$.tenant.active", "BooleanEquals": True}), DOC
    ),
    Case(
        "choice-timestamp",
        choice_states({"Variable": "$.at", "TimestampLessThan": "2027-01-01T00:00:00Z"}),
        DOC,
    ),
    Case("choice-matches", choice_states({"Variable": "$.tenant.id", "StringMatches": "ac*"}), DOC),
    Case(
        "choice-and-or-not",
        choice_states(
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
    Case("choice-is-present", choice_states({"Variable": "$.absent", "IsPresent": False}), DOC),
    Case("choice-is-null", choice_states({"Variable": "$.nothing", "IsNull": True}), DOC),
    Case(
        "choice-type-mismatch", choice_states({"Variable": "$.tenant.id", "NumericEquals": 1}), DOC
    ),
    Case(
        "choice-no-match",
        choice_states({"Variable": "$.tenant.plan", "StringEquals": "x"}, False),
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
    Case(
        "wait-seconds-path",
        {
            "W": {"Type": "Wait", "SecondsPath": "$.zero", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
        {"zero": 0},
    ),
    Case(
        "wait-timestamp-past",
        {"W": {"Type": "Wait", "TimestampPath": "$.at", "End": True}},
        DOC,
    ),
    Case(
        "fail-error-path",
        {"Stop": {"Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}},
        {"error": "Tenant.Gone", "cause": "deleted"},
    ),
    Case("context-state-name", pass_states(Parameters={"state.$": "$$.State.Name"}), DOC),
    Case(
        "pass-result-path-keeps-input", pass_states(Result={"a": 1, "b": 2}, ResultPath="$.r"), DOC
    ),
    Case(
        "parallel",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    _branch(_pass_to("$.tenant.id")),
                    _branch({"B": {"Type": "Pass", "Result": "two", "End": True}}),
                ],
                "ResultPath": "$.both",
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "parallel-result-selector",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    _branch(_pass_to("$.tenant.plan", "Plan")),
                    _branch(_pass_to("$.limit", "Limit")),
                ],
                "ResultSelector": {"plan.$": "$[0]", "limit.$": "$[1]"},
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "parallel-branch-fails",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    _branch(_pass_to("$")),
                    _branch({"F": {"Type": "Fail", "Error": "Branch.Broke", "Cause": "b"}}),
                ],
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "catch-branch-failure",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [_branch({"F": {"Type": "Fail", "Error": "Branch.Broke"}})],
                "Catch": [
                    {"ErrorEquals": ["Branch.Broke"], "ResultPath": "$.caught", "Next": "Done"}
                ],
                "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        },
        {"kept": 1},
    ),
    Case(
        "catch-all-replaces-input",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [_branch({"F": {"Type": "Fail", "Error": "X", "Cause": "why"}})],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
        {"kept": 1},
    ),
    Case(
        "catch-not-matching",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [_branch({"F": {"Type": "Fail", "Error": "X"}})],
                "Catch": [{"ErrorEquals": ["Y"], "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    ),
    Case(
        "retry-then-catch",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [_branch({"F": {"Type": "Fail", "Error": "Flaky"}})],
                "Retry": [
                    {
                        "ErrorEquals": ["Flaky"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 1,
                        "BackoffRate": 1,
                    }
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
        {},
    ),
    Case(
        "map-items",
        {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": _branch(
                    {
                        "Double": {
                            "Type": "Pass",
                            "Parameters": {"v.$": "States.MathAdd($, $)"},
                            "End": True,
                        }
                    }
                ),
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "map-item-selector-context",
        {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {
                    "index.$": "$$.Map.Item.Index",
                    "value.$": "$$.Map.Item.Value",
                    "plan.$": "$.tenant.plan",
                },
                "ItemProcessor": _branch({"Keep": {"Type": "Pass", "End": True}}),
                "ResultPath": "$.mapped",
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "map-iterator-and-parameters",
        {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "Parameters": {"at.$": "$$.Map.Item.Index"},
                "Iterator": _branch({"Keep": {"Type": "Pass", "End": True}}),
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "map-empty",
        {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.none",
                "ItemProcessor": _branch({"Keep": {"Type": "Pass", "End": True}}),
                "End": True,
            }
        },
        {"none": []},
    ),
    Case(
        "map-iteration-fails",
        {
            "Each": {
                "Type": "Map",
                "ItemProcessor": _branch(
                    {
                        "Check": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}],
                            "Default": "Ok",
                        },
                        "Bad": {"Type": "Fail", "Error": "Item.Bad", "Cause": "two"},
                        "Ok": {"Type": "Pass", "End": True},
                    }
                ),
                "End": True,
            }
        },
        [1, 2, 3],
    ),
    Case(
        "map-result-selector-and-output",
        {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": _branch({"Keep": {"Type": "Pass", "End": True}}),
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "ResultPath": "$.summary",
                "OutputPath": "$.summary",
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "nested-map-in-parallel",
        {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    _branch(
                        {
                            "Each": {
                                "Type": "Map",
                                "ItemsPath": "$.items",
                                "ItemProcessor": _branch({"K": {"Type": "Pass", "End": True}}),
                                "End": True,
                            }
                        }
                    )
                ],
                "OutputPath": "$[0]",
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "loop-with-choice",
        {
            "Start": {"Type": "Pass", "Result": 0, "ResultPath": "$.n", "Next": "More"},
            "More": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 3, "Next": "Done"}],
                "Default": "Add",
            },
            "Add": {
                "Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                "Next": "More",
            },
            "Done": {"Type": "Succeed"},
        },
        {},
    ),
    Case(
        "lambda-function-arn",
        {
            "Call": {
                "Type": "Task",
                "Resource": _ECHO_ARN,
                "Parameters": {"tenant.$": "$.tenant.id", "fixed": 1},
                "ResultPath": "$.echoed",
                "OutputPath": "$.echoed",
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "lambda-invoke-wrapped",
        {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": _ECHO_ARN, "Payload": {"plan.$": "$.tenant.plan"}},
                "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode"},
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "lambda-in-a-map",
        {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {"item.$": "$$.Map.Item.Value", "at.$": "$$.Map.Item.Index"},
                "ItemProcessor": _branch(
                    {"Call": {"Type": "Task", "Resource": _ECHO_ARN, "End": True}}
                ),
                "End": True,
            }
        },
        DOC,
    ),
    Case(
        "lambda-missing-function-caught",
        {
            "Call": {
                "Type": "Task",
                "Resource": _MISSING_ARN,
                "Catch": [
                    {
                        "ErrorEquals": ["States.TaskFailed"],
                        "ResultPath": "$.error",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Pass", "InputPath": "$.error.Error", "End": True},
        },
        {},
    ),
]


def machine_of(case: Case) -> dict[str, Any]:
    """The case's state machine, starting at its first state."""
    return {"StartAt": next(iter(case.states)), "States": case.states}
