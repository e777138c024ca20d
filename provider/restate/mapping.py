"""Restate invocation rows → landlord execution states (the table in one place).

pending/scheduled/ready/inboxed → pending; running → running; backing-off → running
(sub_state backing-off); suspended → running (waiting); paused → running (error: needs an
operator); completed + success → succeeded; completed + failure → cancelled for a cancel or a
kill ([409]), timed_out for a workflow that ended on its deadline ([408]), else failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.contract import (
    CANCELLED_CODE,
    STARTED_AT_HEADER,
    STATE_MACHINE_SERVICE,
    TIMED_OUT_CODE,
    parse_failure,
    parse_states_failure,
)

from ..models import ExecutionError, ExecutionState

__all__ = ["completion_error", "parse_time", "started_at", "state_of"]

_LIVE = {
    "pending": (ExecutionState.PENDING, "pending"),
    "scheduled": (ExecutionState.PENDING, "scheduled"),
    "ready": (ExecutionState.PENDING, "ready"),
    "inboxed": (ExecutionState.PENDING, "pending"),
    "running": (ExecutionState.RUNNING, "running"),
    "backing-off": (ExecutionState.RUNNING, "backing-off"),
    "suspended": (ExecutionState.RUNNING, "waiting"),
    "paused": (ExecutionState.RUNNING, "error"),
}


def parse_time(value: Any) -> datetime | None:
    """A timestamp column as an aware datetime (absent columns are None)."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def started_at(headers: Mapping[str, str], row: Mapping[str, Any]) -> datetime | None:
    """When the execution was started, as its first start answered: the time the control plane
    sent with it, else (one started by hand through the ingress) when Restate created it."""
    with contextlib.suppress(ValueError):
        sent = datetime.fromisoformat(headers.get(STARTED_AT_HEADER, ""))
        if sent.tzinfo is not None:
            return sent
    return parse_time(row.get("created_at"))


def completion_error(row: dict[str, Any]) -> ExecutionError | None:
    """The terminal error of a failed invocation: its code and message (for a state machine
    that failed on an ASL error, the error's name and its cause)."""
    if row.get("status") != "completed" or row.get("completion_result") != "failure":
        return None
    code, message = parse_failure(str(row.get("completion_failure") or ""))
    name = str(code)
    if row.get("target_service_name") == STATE_MACHINE_SERVICE and code == 500:
        name, message = parse_states_failure(message)
    return ExecutionError(code=name, message=message, failed_at=parse_time(row.get("completed_at")))


def state_of(row: dict[str, Any]) -> tuple[ExecutionState, str]:
    """The landlord state and the operator-facing sub-state of one `sys_invocation` row."""
    status = str(row.get("status"))
    if status in _LIVE:
        return _LIVE[status]
    if status != "completed":
        return ExecutionState.RUNNING, status
    if row.get("completion_result") == "success":
        return ExecutionState.SUCCEEDED, "succeeded"
    error = completion_error(row)
    code = error.code if error else ""
    if code == str(CANCELLED_CODE):
        return ExecutionState.CANCELLED, "failed"
    if code == str(TIMED_OUT_CODE):
        return ExecutionState.TIMED_OUT, "failed"
    return ExecutionState.FAILED, "failed"
