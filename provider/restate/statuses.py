"""Execution statuses, each answered from the cheapest source that knows.

A finished execution never changes: its status is read once and then remembered. A running
one's journal only grows and its progress changes only with it, so a poll reads its row, and
the journal's new entries and the progress only when the row's `journal_size` moved. Every
read is SQL over the admin API (nothing starts an invocation) and batched: polling a thousand
executions costs a few queries, not a few thousand, whether one call asks for them all or a
thousand tasks ask at once (reads asked for together are joined: `Coalesced`). A succeeded
execution's output is its journal's Output command, read with the rest; only once the
journal is no longer kept does it come from the ingress.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from sealing import mask_secrets
from services.contract import STATE_MACHINE_SERVICE, TIMED_OUT_CODE, split_machine_key

from ..models import ExecutionError, ExecutionEvent, ExecutionState, ExecutionStatus
from .admin import VISIBLE_WITHIN
from .ingress import IngressApi
from .invocations import Invocations, JournalRead
from .mapping import completion_error, parse_time, state_of
from .memory import Bounded
from .progress import LiveProgress, Progress

__all__ = ["Statuses", "summary"]

_OUTPUTS_AT_ONCE = 16
"""Output reads in flight when many executions finished since the last poll."""
_SENT_REMEMBERED = 4096
"""Executions this provider just started, whose rows a status waits for (the newest kept)."""

WorkflowsOf = Callable[[set[str]], Awaitable[dict[str, str]]]
"""The landlord workflow id of each Restate service named (looked up when not known yet)."""


def _is_machine(row: dict[str, Any]) -> bool:
    return row.get("target_service_name") == STATE_MACHINE_SERVICE


def _input_of(row: dict[str, Any], payload: JsonValue) -> JsonValue:
    """The execution's input: for a state machine, the input its `MachineRun` carries."""
    if _is_machine(row) and isinstance(payload, dict):
        return payload.get("input")
    return payload


_MACHINE_ENDINGS = {
    ExecutionState.CANCELLED: "ExecutionAborted",
    ExecutionState.TIMED_OUT: "ExecutionTimedOut",
}


def _machine_ending(
    status: ExecutionStatus, events: Sequence[ExecutionEvent]
) -> list[ExecutionEvent]:
    """The last event of a machine that was stopped or timed out, as Step Functions records
    it: the cancel ends the machine wherever it is, so only its invocation knows how it ended."""
    kind = _MACHINE_ENDINGS.get(status.state)
    if kind is None or status.stop_time is None:
        return []
    details: dict[str, JsonValue] = {"state": events[-1].details.get("state") if events else None}
    if status.error is not None:
        details["cause"] = status.error.message
    return [ExecutionEvent(timestamp=status.stop_time, type=kind, details=details)]


def summary(
    row: dict[str, Any], *, workflow_id: str, provider_type: str, deadline: str | None = None
) -> ExecutionStatus:
    """A `sys_invocation` row as a status without input, output or history; `deadline`: the
    timeout after which its `ExecutionDeadline` cancelled it (it timed out)."""
    state, sub_state = state_of(row)
    error = completion_error(row)
    name = row.get("target_service_key")
    if _is_machine(row):  # keyed <workflow id>.<execution name>
        workflow_id, name = split_machine_key(str(name))
    if deadline is not None:
        state = ExecutionState.TIMED_OUT
        error = ExecutionError(
            code=str(TIMED_OUT_CODE),
            message=f"timed out after {deadline}: cancelled at its deadline",
            failed_at=parse_time(row.get("completed_at")),
        )
    return ExecutionStatus(
        execution_id=row["id"],
        workflow_id=workflow_id,
        provider_type=provider_type,
        state=state,
        execution_name=str(name or ""),
        start_time=parse_time(row.get("created_at")),
        stop_time=parse_time(row.get("completed_at")),
        error=error,
        metadata={
            "sub_state": sub_state,
            "retry_count": row.get("retry_count", 0),
            "last_failure": row.get("last_failure"),
            "next_retry_at": row.get("next_retry_at"),
            "deployment_id": row.get("pinned_deployment_id"),
        },
    )


@dataclass
class _Seen:
    """What the last read of a running execution found, and the status it made of its row
    (shown again while neither the row nor the journal changes)."""

    journal: JournalRead
    progress: Progress
    row: dict[str, Any] | None = None
    status: ExecutionStatus | None = None


class Statuses:
    """Reads statuses in batches and remembers what cannot change (bounded)."""

    def __init__(
        self,
        invocations: Invocations,
        progress: LiveProgress,
        ingress: IngressApi,
        *,
        workflows_of: WorkflowsOf,
        provider_type: str,
        capacity: int,
    ) -> None:
        self.invocations = invocations
        self.progress = progress
        self.ingress = ingress
        self._workflows_of = workflows_of
        self._provider_type = provider_type
        self._finished: Bounded[str, ExecutionStatus] = Bounded(capacity)
        self._running: Bounded[str, _Seen] = Bounded(capacity)
        self._sent: Bounded[str, float] = Bounded(_SENT_REMEMBERED)

    def sent(self, execution_id: str) -> None:
        """Note an execution just started here: until its row shows, a status waits for it
        (up to `VISIBLE_WITHIN`) rather than call it unknown."""
        self._sent.put(execution_id, time.monotonic() + VISIBLE_WITHIN)

    def finished(self, execution_id: str) -> bool:
        """Whether the execution is remembered as ended (nothing can change it any more)."""
        return self._finished.get(execution_id) is not None

    async def of_ids(self, execution_ids: Sequence[str]) -> dict[str, ExecutionStatus]:
        """The status of each known id (unknown ones are left out)."""
        known = {i: s for i in execution_ids if (s := self._finished.get(i)) is not None}
        asked = [i for i in execution_ids if i not in known]
        if not asked:
            return known
        now = time.monotonic()
        expected = [i for i in asked if (self._sent.get(i) or now) > now]
        rows = await self.invocations.rows(asked, expected=expected)
        for execution_id in rows.keys() & set(expected):
            self._sent.pop(execution_id)
        read = await self.of_rows(list(rows.values()))
        return {**known, **{status.execution_id: status for status in read}}

    async def of_rows(self, rows: list[dict[str, Any]]) -> list[ExecutionStatus]:
        """The full status of the invocation of each row, in the rows' order."""
        finished = {str(r["id"]): s for r in rows if (s := self._finished.get(str(r["id"])))}
        fresh = [row for row in rows if str(row["id"]) not in finished]
        changed = [row for row in fresh if self._changed(row)]
        since = {str(row["id"]): self._seen_until(row) for row in changed}
        ended = [row for row in fresh if _ended(row)]
        journals, progress, deadlines, workflows = await asyncio.gather(
            self.invocations.journals(since) if since else _nothing(),
            self.progress.of(changed) if changed else _nothing(),
            self.invocations.deadlines_fired(ended),
            self._workflows_of(
                {str(row.get("target_service_name")) for row in fresh if not _is_machine(row)}
            ),
        )
        outputs = await self._outputs(ended, journals)
        statuses = []
        for row in rows:
            invocation_id = str(row["id"])
            if invocation_id in finished:
                statuses.append(finished[invocation_id])
                continue
            seen = (
                self._update(
                    row,
                    journals.get(invocation_id),
                    progress.get(invocation_id),
                    start=since[invocation_id],
                )
                if invocation_id in since
                else self._running.get(invocation_id)
            )
            assert seen is not None  # unchanged means seen before
            workflow_id = workflows.get(str(row.get("target_service_name")), "")
            if (
                seen.row == row
                and seen.status is not None
                and seen.status.workflow_id == workflow_id
            ):
                statuses.append(seen.status)  # nothing it shows has changed since
                continue
            status = summary(
                row,
                workflow_id=workflow_id,
                provider_type=self._provider_type,
                deadline=deadlines.get(invocation_id),
            )
            fields, events = seen.progress
            commands = [] if _is_machine(row) else seen.journal.events  # its own history says more
            history = sorted([*commands, *events], key=lambda event: event.timestamp)
            if _is_machine(row):
                history += _machine_ending(status, events)
            status = status.model_copy(
                update={
                    "input": mask_secrets(_input_of(row, seen.journal.payload)),
                    "output": mask_secrets(outputs.get(invocation_id)),
                    "history": history,
                    "metadata": {**status.metadata, "progress": fields}
                    if fields
                    else status.metadata,
                }
            )
            if status.state.is_terminal:
                self._running.pop(invocation_id)
                self._finished.put(invocation_id, status)
            else:
                seen.row, seen.status = row, status
            statuses.append(status)
        return statuses

    def _changed(self, row: dict[str, Any]) -> bool:
        """Whether the journal grew since the last read (an ending is always read whole)."""
        seen = self._running.get(str(row["id"]))
        return seen is None or _ended(row) or seen.journal.until < int(row.get("journal_size") or 0)

    def _seen_until(self, row: dict[str, Any]) -> int:
        """The journal index to read from: past what was read before; 0 for a first read and
        for an execution that ended (its journal as it was kept, whatever was seen before)."""
        seen = self._running.get(str(row["id"]))
        return 0 if seen is None or _ended(row) else seen.journal.until

    def _update(
        self,
        row: dict[str, Any],
        journal: JournalRead | None,
        progress: Progress | None,
        *,
        start: int,
    ) -> _Seen:
        """Add what was just read of an execution, from journal index `start` on, to what was
        read before."""
        invocation_id = str(row["id"])
        seen = self._running.get(invocation_id)
        read = journal or JournalRead(None, {}, [], start)
        if seen is not None and start > 0:
            read = JournalRead(
                seen.journal.payload,
                seen.journal.headers,
                [*seen.journal.events, *read.events],
                read.until,
            )
        updated = _Seen(read, progress or ({}, []))
        self._running.put(invocation_id, updated)
        return updated

    async def _outputs(
        self, ended: Iterable[dict[str, Any]], journals: dict[str, JournalRead]
    ) -> dict[str, JsonValue]:
        """The output of each succeeded execution among `ended`: from the journal just read,
        else (its journal no longer kept) from the ingress."""
        succeeded = [str(row["id"]) for row in ended if row.get("completion_result") == "success"]
        found = {
            i: journals[i].output for i in succeeded if i in journals and journals[i].has_output
        }
        limit = asyncio.Semaphore(_OUTPUTS_AT_ONCE)

        async def output(invocation_id: str) -> tuple[str, JsonValue]:
            async with limit:
                response = await self.ingress.invocation_output(invocation_id)
            value: JsonValue = response.json() if response.is_success and response.content else None
            return invocation_id, value

        fetched = await asyncio.gather(*(output(i) for i in succeeded if i not in found))
        return {**found, **dict(fetched)}


def _ended(row: dict[str, Any]) -> bool:
    return state_of(row)[0].is_terminal


async def _nothing() -> dict[str, Any]:
    return {}
