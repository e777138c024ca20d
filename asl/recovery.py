"""`Retry` and `Catch`: which retrier or catcher an error matches, and how long a retry waits
(`IntervalSeconds` times `BackoffRate` to the attempt, capped by `MaxDelaySeconds`, then
`JitterStrategy`)."""

from __future__ import annotations

import re
from typing import Any

from ._exceptions import StatesError
from .intrinsics import Randomness

__all__ = [
    "ALL",
    "PREDEFINED_ERRORS",
    "UNRECOVERABLE",
    "catcher_for",
    "delay",
    "is_predefined",
    "matches_error",
]

ALL = "States.ALL"
TASK_FAILED = "States.TaskFailed"
TIMEOUT = "States.Timeout"
UNRECOVERABLE = frozenset({"States.Runtime", "States.DataLimitExceeded"})
"""Errors no retrier or catcher matches, not even `States.ALL` (the specification's rule)."""
PREDEFINED_ERRORS = frozenset(
    {
        ALL,
        TASK_FAILED,
        TIMEOUT,
        *UNRECOVERABLE,
        "States.BranchFailed",
        "States.ExceedToleratedFailureThreshold",
        "States.HeartbeatTimeout",
        "States.Http.Socket",
        "States.IntrinsicFailure",
        "States.ItemReaderFailed",
        "States.NoChoiceMatched",
        "States.ParameterPathFailure",
        "States.Permissions",
        "States.QueryEvaluationError",
        "States.ResultPathMatchFailure",
        "States.ResultWriterFailed",
    }
)
"""The error names the specification (and Step Functions' HTTP task) defines under the
reserved `States.` prefix; `States.Http.StatusCode.<code>` besides."""
_HTTP_STATUS = re.compile(r"^States\.Http\.StatusCode\.[1-5][0-9][0-9]$")


def is_predefined(name: str) -> bool:
    """Whether `name`, which starts with the reserved `States.`, is one the language defines."""
    return name in PREDEFINED_ERRORS or bool(_HTTP_STATUS.match(name))


def matches_error(error_equals: list[str], error: StatesError) -> bool:
    """Whether an `ErrorEquals` list names `error`: by name, `States.ALL` for any, and
    `States.TaskFailed` for any but `States.Timeout`."""
    if error.error in UNRECOVERABLE:
        return False
    return any(
        name == error.error or name == ALL or (name == TASK_FAILED and error.error != TIMEOUT)
        for name in error_equals
    )


def catcher_for(state: dict[str, Any], error: StatesError) -> dict[str, Any] | None:
    """The first of the state's `Catch` entries that matches, if any."""
    for catcher in state.get("Catch", []):
        if matches_error(catcher["ErrorEquals"], error):
            return dict(catcher)
    return None


def delay(retrier: dict[str, Any], attempt: int, randomness: Randomness) -> float:
    """Seconds to wait before retry number `attempt` (0-based) under `retrier`."""
    seconds = float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** (
        attempt
    )
    if "MaxDelaySeconds" in retrier:
        seconds = min(seconds, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy") == "FULL":
        seconds = seconds * randomness.randint(0, 1_000_001) / 1_000_000
    return seconds
