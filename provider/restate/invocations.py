"""Reads of Restate's invocation tables over the admin SQL API: one invocation's row, its
journal (input, headers, commands as history), a workflow's rows by state, and which
cancelled ones their `ExecutionDeadline` cancelled (they timed out)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from pydantic import JsonValue

from services.contract import (
    CANCELLED_CODE,
    DEADLINE_FIRED_KEY,
    DEADLINE_SERVICE,
    TIMED_OUT_CODE,
)

from ..models import ExecutionEvent, ExecutionState, utcnow
from .admin import VISIBLE_WITHIN, AdminApi, sql_string
from .mapping import parse_time
from .names import check_invocation_id

__all__ = ["Invocations"]

_ROW_COLUMNS = (
    "id, target_service_name, target_service_key, target_handler_name, status, "
    "completion_result, completion_failure, retry_count, last_failure, "
    "last_failure_error_code, created_at, running_at, completed_at, modified_at, "
    "next_retry_at, pinned_deployment_id, journal_size"
)
_CANCELLED = f"completion_failure LIKE '[{CANCELLED_CODE}]%'"
_TIMED_OUT = f"completion_failure LIKE '[{TIMED_OUT_CODE}]%'"
_DEADLINE_FIRED = (
    f"id IN (SELECT service_key FROM state WHERE service_name = '{DEADLINE_SERVICE}' "
    f"AND key = '{DEADLINE_FIRED_KEY}')"
)
_STATE_FILTERS = {
    ExecutionState.PENDING: "status IN ('pending', 'scheduled', 'ready', 'inboxed')",
    ExecutionState.RUNNING: "status IN ('running', 'backing-off', 'suspended', 'paused')",
    ExecutionState.SUCCEEDED: "status = 'completed' AND completion_result = 'success'",
    ExecutionState.CANCELLED: f"status = 'completed' AND {_CANCELLED} AND NOT {_DEADLINE_FIRED}",
    ExecutionState.TIMED_OUT: (
        f"status = 'completed' AND ({_TIMED_OUT} OR ({_CANCELLED} AND {_DEADLINE_FIRED}))"
    ),
    ExecutionState.FAILED: (
        "status = 'completed' AND completion_result = 'failure' "
        f"AND NOT {_CANCELLED} AND NOT {_TIMED_OUT}"
    ),
}


def _payload(raw: bytes) -> JsonValue:
    """An invocation's input: JSON, or text when a caller of the ingress sent something else."""
    try:
        value: JsonValue = json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8
        return raw.decode("utf-8", errors="replace")
    return value


class Invocations:
    """SQL reads of `sys_invocation`, `sys_journal` and the deadline marks."""

    def __init__(self, admin: AdminApi) -> None:
        self.admin = admin

    async def row(self, invocation_id: str, *, wait: bool = False) -> dict[str, Any] | None:
        """One invocation's row; with `wait`, give a just-sent one time to show."""
        deadline = time.monotonic() + (VISIBLE_WITHIN if wait else 0)
        while True:
            rows = await self.admin.query(
                f"SELECT {_ROW_COLUMNS} FROM sys_invocation WHERE id = {sql_string(invocation_id)}"
            )
            if rows or time.monotonic() >= deadline:
                return rows[0] if rows else None
            await asyncio.sleep(0.02)

    async def of_handler(
        self, service: str, handler: str, *, state: ExecutionState | None, limit: int
    ) -> list[dict[str, Any]]:
        """The rows of one handler's invocations, newest first, optionally in one state."""
        where = (
            f"target_service_name = {sql_string(service)} "
            f"AND target_handler_name = {sql_string(handler)}"
        )
        if state is not None:
            where += f" AND {_STATE_FILTERS[state]}"
        return await self.admin.query(
            f"SELECT {_ROW_COLUMNS} FROM sys_invocation WHERE {where} "
            f"ORDER BY created_at DESC LIMIT {int(limit)}"
        )

    async def journal(
        self, invocation_id: str
    ) -> tuple[JsonValue, dict[str, str], list[ExecutionEvent]]:
        """The input (payload and headers) and the journal's commands as history."""
        rows = await self.admin.query(
            "SELECT index, entry_type, name, appended_at, "
            "CASE WHEN index = 0 THEN entry_json END AS input_json FROM sys_journal "
            f"WHERE id = {sql_string(invocation_id)} ORDER BY index"
        )
        payload: JsonValue = None
        headers: dict[str, str] = {}
        events = []
        for row in rows:
            if row.get("input_json"):
                entry = json.loads(row["input_json"])["Command"]["Input"]
                raw = entry["payload"]
                payload = _payload(bytes(raw)) if raw else None
                headers = {h["name"]: h["value"] for h in entry.get("headers", [])}
            if str(row.get("entry_type", "")).startswith("Command"):
                events.append(
                    ExecutionEvent(
                        timestamp=parse_time(row.get("appended_at")) or utcnow(),
                        type=str(row["entry_type"]).removeprefix("Command: "),
                        details={"index": row.get("index"), "name": row.get("name") or None},
                    )
                )
        return payload, headers, events

    async def deadlines_fired(self, rows: list[dict[str, Any]]) -> dict[str, str]:
        """For the rows that ended cancelled: which were cancelled by their deadline, and its
        timeout."""
        cancelled = [
            str(row["id"])
            for row in rows
            if str(row.get("completion_failure") or "").startswith(f"[{CANCELLED_CODE}]")
        ]
        if not cancelled:
            return {}
        ids = ", ".join(sql_string(check_invocation_id(i)) for i in cancelled)
        marks = await self.admin.query(
            f"SELECT service_key, value_utf8 FROM state WHERE service_name = "
            f"{sql_string(DEADLINE_SERVICE)} AND key = {sql_string(DEADLINE_FIRED_KEY)} "
            f"AND service_key IN ({ids})"
        )
        return {str(m["service_key"]): json.loads(m["value_utf8"]) for m in marks}
