"""Step Functions execution statuses and history → landlord states, errors and events.

RUNNING → running (sub_state `waiting` while a Wait state or a callback task holds it,
`backing-off` after a failed task attempt that a Retry will repeat, else `running`);
SUCCEEDED → succeeded; FAILED → failed (error and cause in `error`); TIMED_OUT → timed_out;
ABORTED → cancelled (StopExecution); PENDING_REDRIVE → pending (sub_state `backing-off`: a
failed execution about to be re-driven). `retry_count` is the number of failed attempts
(task, Lambda, activity, … `…Failed` / `…TimedOut` events) in the history so far.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import JsonValue

from sealing import mask_secrets

from ..models import ExecutionError, ExecutionEvent, ExecutionState

__all__ = [
    "STATUS_FILTER",
    "decode_json",
    "error_of",
    "events_of",
    "json_safe",
    "state_of",
    "utc",
]

_STATES = {
    "RUNNING": (ExecutionState.RUNNING, "running"),
    "SUCCEEDED": (ExecutionState.SUCCEEDED, "succeeded"),
    "FAILED": (ExecutionState.FAILED, "failed"),
    "TIMED_OUT": (ExecutionState.TIMED_OUT, "failed"),
    "ABORTED": (ExecutionState.CANCELLED, "failed"),
    "PENDING_REDRIVE": (ExecutionState.PENDING, "backing-off"),
}
STATUS_FILTER: dict[ExecutionState, str] = {
    ExecutionState.PENDING: "PENDING_REDRIVE",
    ExecutionState.RUNNING: "RUNNING",
    ExecutionState.SUCCEEDED: "SUCCEEDED",
    ExecutionState.FAILED: "FAILED",
    ExecutionState.TIMED_OUT: "TIMED_OUT",
    ExecutionState.CANCELLED: "ABORTED",
}
"""The `statusFilter` of ListExecutions for each landlord state (the inverse of the table)."""

_WAITING_EVENTS = frozenset(
    {"WaitStateEntered", "ActivityScheduled", "TaskSubmitted", "MapRunStarted"}
)
_ERROR_CODES = {
    "TIMED_OUT": ("States.Timeout", "the execution exceeded its TimeoutSeconds"),
    "ABORTED": ("Cancelled", "the execution was stopped"),
}


def utc(value: Any) -> datetime | None:
    """An AWS timestamp as an aware UTC datetime (boto3 gives local-zone datetimes)."""
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def decode_json(text: Any) -> JsonValue:
    """An input or output document as JSON (a string that is not JSON stays a string)."""
    if not isinstance(text, str):
        return None
    try:
        value: JsonValue = json.loads(text)
    except ValueError:
        return text
    return value


def json_safe(value: Any) -> JsonValue:
    """A boto3 value as plain JSON: timestamps become ISO 8601 text, the rest as they are."""
    if isinstance(value, datetime):
        stamp = utc(value)
        return stamp.isoformat() if stamp else None
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _failed_attempt(event_type: str) -> bool:
    """A failed step attempt (a Retry may repeat it), not the execution's own end."""
    return event_type.endswith(("Failed", "TimedOut")) and not event_type.startswith("Execution")


def state_of(
    status: str, history: Sequence[Mapping[str, Any]] = ()
) -> tuple[ExecutionState, str, int]:
    """The landlord state, the operator-facing sub-state and the retry count of an execution."""
    state, sub_state = _STATES.get(status, (ExecutionState.RUNNING, status.lower()))
    retries = sum(1 for event in history if _failed_attempt(str(event.get("type", ""))))
    if state is ExecutionState.RUNNING and history:
        last = str(history[-1].get("type", ""))
        if last in _WAITING_EVENTS:
            sub_state = "waiting"
        elif _failed_attempt(last):
            sub_state = "backing-off"
    return state, sub_state, retries


def error_of(description: Mapping[str, Any]) -> ExecutionError | None:
    """Why an execution did not succeed: DescribeExecution's error and cause, or the status."""
    status = str(description.get("status", ""))
    if status not in ("FAILED", "TIMED_OUT", "ABORTED"):
        return None
    default_code, default_message = _ERROR_CODES.get(status, ("States.Failed", "failed"))
    code = str(description.get("error") or default_code)
    cause = str(description.get("cause") or "")
    return ExecutionError(
        code=code,
        message=cause or default_message,
        cause=cause,
        failed_at=utc(description.get("stopDate")),
    )


def _details(event: Mapping[str, Any]) -> dict[str, JsonValue]:
    """An event's `…EventDetails` fields, with the event's ids; documents decoded from JSON."""
    details: dict[str, JsonValue] = {"id": json_safe(event.get("id"))}
    if event.get("previousEventId") is not None:
        details["previous_event_id"] = json_safe(event["previousEventId"])
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, Mapping):
            for name, item in value.items():
                decoded = name in ("input", "output", "result", "parameters")
                details[str(name)] = mask_secrets(decode_json(item)) if decoded else json_safe(item)
    return details


def events_of(history: Sequence[Mapping[str, Any]]) -> list[ExecutionEvent]:
    """GetExecutionHistory events as landlord events: timestamp, type and details."""
    return [
        ExecutionEvent(
            timestamp=utc(event.get("timestamp")) or datetime.now(UTC),
            type=str(event.get("type", "")),
            details=_details(event),
        )
        for event in history
    ]
