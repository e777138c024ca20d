"""Reads of Restate's invocation tables over the admin SQL API: invocations' rows, their
journal (input, headers, commands as history), a workflow's rows by state, and which
cancelled ones their `ExecutionDeadline` cancelled (they timed out)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
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
from .coalescing import Coalesced
from .mapping import parse_time
from .names import check_invocation_id

__all__ = ["BATCH_SIZE", "Invocations", "JournalRead"]

BATCH_SIZE = 1000
"""Invocation ids per SQL query (a fleet's poll of a thousand is one query)."""

_ROW_COLUMNS = (
    "id, target_service_name, target_service_key, target_handler_name, status, "
    "completion_result, completion_failure, retry_count, last_failure, "
    "last_failure_error_code, created_at, running_at, completed_at, modified_at, "
    "next_retry_at, pinned_deployment_id, journal_size"
)
_STATUS_COLUMNS = (
    "id, target_service_name, target_service_key, status, completion_result, "
    "completion_failure, created_at, completed_at, pinned_deployment_id, journal_size"
)
"""What a status shows of a stored row (each column more costs Restate CPU on every poll)."""
_ATTEMPT_COLUMNS = (
    "id, in_flight, retry_count, last_failure, last_failure_error_code, next_retry_at"
)
_WITH_ATTEMPTS = {"invoked", "paused"}
"""Stored statuses whose row also shows the invoker's attempts (retries, last failure)."""
_SHOWN = {"inboxed": "pending"}
"""`sys_invocation`'s name for a stored status, where it differs."""
_OUTPUT_ENTRY = "Command: Output"
"""The journal entry that holds a finished invocation's result."""


def _as_shown(row: dict[str, Any], attempt: dict[str, Any] | None) -> dict[str, Any]:
    """A `sys_invocation_status` row (and its `sys_invocation_state` attempt) as the
    `sys_invocation` view shows it: the view joins the two, in the same way."""
    stored = str(row.get("status"))
    shown = {**row, **{k: v for k, v in (attempt or {}).items() if k != "in_flight"}}
    if stored != "invoked":
        shown["status"] = _SHOWN.get(stored, stored)
    elif attempt and attempt.get("in_flight"):
        shown["status"] = "running"
    else:
        retried = int((attempt or {}).get("retry_count") or 0) > 0
        shown["status"] = "backing-off" if retried else "ready"
    return shown


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


@dataclass
class JournalRead:
    """What a read of an invocation's journal from some index on found: the input (payload and
    headers, when the read began at entry 0), the commands as history, the index the next
    read starts at, and the output once it succeeded."""

    payload: JsonValue
    headers: dict[str, str]
    events: list[ExecutionEvent]
    until: int
    output: JsonValue = None
    has_output: bool = False
    """Whether the read met the journal's successful Output command (`output` is its value)."""


def _in_list(ids: Iterable[str]) -> str:
    return ", ".join(sql_string(check_invocation_id(i)) for i in ids)


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), BATCH_SIZE):
        yield ids[start : start + BATCH_SIZE]


class Invocations:
    """SQL reads of `sys_invocation`, `sys_journal` and the deadline marks. Rows and journals
    asked for at the same time are read together (`Coalesced`)."""

    def __init__(self, admin: AdminApi) -> None:
        self.admin = admin
        self._rows_read: Coalesced[str, dict[str, Any]] = Coalesced(
            partial(self._rows, attempts=True)
        )
        self._journals_read: Coalesced[tuple[str, int], JournalRead] = Coalesced(
            self._journals_from
        )

    async def row(self, invocation_id: str, *, wait: bool = False) -> dict[str, Any] | None:
        """One invocation's stored row (without the invoker's attempts: a running one shows as
        `ready`); with `wait`, give a just-sent one time to show."""
        rows = await self.rows(
            [invocation_id], attempts=False, expected=(invocation_id,) if wait else ()
        )
        return rows.get(invocation_id)

    async def rows(
        self,
        invocation_ids: Sequence[str],
        *,
        attempts: bool = True,
        expected: Collection[str] = (),
    ) -> dict[str, dict[str, Any]]:
        """The rows of these invocations by id, as `sys_invocation` shows them, unknown ids left
        out; those `expected` (just sent) are read again until they show or `VISIBLE_WITHIN`
        passes."""
        read = self._rows_read.get if attempts else partial(self._rows, attempts=False)
        found = await read([check_invocation_id(i) for i in invocation_ids])
        awaited = [i for i in expected if i not in found]
        deadline = time.monotonic() + VISIBLE_WITHIN
        while awaited and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            found.update(await read(awaited))
            awaited = [i for i in awaited if i not in found]
        return found

    async def _rows(
        self, invocation_ids: Sequence[str], *, attempts: bool
    ) -> dict[str, dict[str, Any]]:
        """The rows of these invocations, read once: from the stored half of the view
        (`sys_invocation_status`), and from the invoker's half (`sys_invocation_state`) only for
        those it may be running: the view's join costs Restate several times the CPU of reading
        the stored half alone. One query per `BATCH_SIZE` ids, plus one when any may be running
        (and `attempts` are wanted)."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(list(dict.fromkeys(invocation_ids))):
            stored = await self.admin.query(
                f"SELECT {_STATUS_COLUMNS} FROM sys_invocation_status "
                f"WHERE id IN ({_in_list(chunk)})"
            )
            live = [
                str(row["id"]) for row in stored if attempts and row.get("status") in _WITH_ATTEMPTS
            ]
            tried = (
                await self.admin.query(
                    f"SELECT {_ATTEMPT_COLUMNS} FROM sys_invocation_state "
                    f"WHERE id IN ({_in_list(live)})"
                )
                if live
                else []
            )
            by_id = {str(attempt["id"]): attempt for attempt in tried}
            found.update(
                (str(row["id"]), _as_shown(row, by_id.get(str(row["id"])))) for row in stored
            )
        return found

    async def of_handler(
        self,
        service: str,
        handler: str,
        *,
        state: ExecutionState | None,
        limit: int,
        key_prefix: str | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of one handler's invocations, newest first, optionally in one state or
        only those whose key starts with `key_prefix`."""
        where = (
            f"target_service_name = {sql_string(service)} "
            f"AND target_handler_name = {sql_string(handler)}"
        )
        if key_prefix is not None:
            where += f" AND starts_with(target_service_key, {sql_string(key_prefix)})"
        if state is not None:
            where += f" AND {_STATE_FILTERS[state]}"
        return await self.admin.query(
            f"SELECT {_ROW_COLUMNS} FROM sys_invocation WHERE {where} "
            f"ORDER BY created_at DESC LIMIT {int(limit)}"
        )

    async def journal(self, invocation_id: str) -> JournalRead:
        """The input (payload and headers), the journal's commands as history, and the output
        once it succeeded."""
        return (await self.journals({invocation_id: 0})).get(
            invocation_id, JournalRead(None, {}, [], 0)
        )

    async def journals(self, since: Mapping[str, int]) -> dict[str, JournalRead]:
        """For each invocation id, its journal from the given index on (a journal only grows,
        so a reader that has seen its first entries asks for the rest)."""
        asked = [(check_invocation_id(i), start) for i, start in since.items()]
        return {i: read for (i, _), read in (await self._journals_read.get(asked)).items()}

    async def _journals_from(
        self, asked: list[tuple[str, int]]
    ) -> dict[tuple[str, int], JournalRead]:
        """Each (id, index) asked for: that journal from that index on; one query per
        `BATCH_SIZE` ids (one id may be asked for from two indexes by two callers). Sorted
        here, and every entry's JSON taken: a CASE or an ORDER BY costs Restate more CPU than
        the query itself."""
        starts: dict[str, list[int]] = {}
        for invocation_id, start in asked:
            starts.setdefault(invocation_id, []).append(start)
        reads: dict[tuple[str, int], JournalRead] = {}
        for chunk in _chunks(list(starts)):
            rows = await self.admin.query(
                "SELECT id, index, entry_type, name, appended_at, entry_json FROM sys_journal "
                f"WHERE id IN ({_in_list(chunk)}) "
                f"AND index >= {min(min(starts[i]) for i in chunk)}"
            )
            for row in sorted(rows, key=lambda row: (str(row["id"]), int(row.get("index", 0)))):
                invocation_id = str(row["id"])
                for start in starts.get(invocation_id, ()):
                    if int(row.get("index", 0)) >= start:
                        read = reads.setdefault(
                            (invocation_id, start), JournalRead(None, {}, [], start)
                        )
                        _add_entry(read, row)
        return reads

    async def deadlines_fired(self, rows: Iterable[dict[str, Any]]) -> dict[str, str]:
        """For the rows that ended cancelled: which were cancelled by their deadline, and its
        timeout."""
        cancelled = [
            str(row["id"])
            for row in rows
            if str(row.get("completion_failure") or "").startswith(f"[{CANCELLED_CODE}]")
        ]
        if not cancelled:
            return {}
        marks = await self.admin.query(
            f"SELECT service_key, value_utf8 FROM state WHERE service_name = "
            f"{sql_string(DEADLINE_SERVICE)} AND key = {sql_string(DEADLINE_FIRED_KEY)} "
            f"AND service_key IN ({_in_list(cancelled)})"
        )
        return {str(m["service_key"]): json.loads(m["value_utf8"]) for m in marks}


def _add_entry(read: JournalRead, row: dict[str, Any]) -> None:
    """Add one `sys_journal` row to a read: the input, the output, a command as an event."""
    index, kind = int(row.get("index", 0)), str(row.get("entry_type", ""))
    wanted = index == 0 or kind == _OUTPUT_ENTRY  # the input and the result; others by type
    command = (
        json.loads(row["entry_json"]).get("Command", {}) if wanted and row.get("entry_json") else {}
    )
    if "Input" in command:
        raw = command["Input"]["payload"]
        read.payload = _payload(bytes(raw)) if raw else None
        read.headers.update((h["name"], h["value"]) for h in command["Input"].get("headers", []))
    success = command.get("Output", {}).get("result", {}).get("Success")
    if success is not None:
        read.output = _payload(bytes(success)) if success else None
        read.has_output = True
    if kind.startswith("Command"):
        read.events.append(
            ExecutionEvent(
                timestamp=parse_time(row.get("appended_at")) or utcnow(),
                type=kind.removeprefix("Command: "),
                details={"index": index, "name": row.get("name") or None},
            )
        )
    read.until = max(read.until, index + 1)
