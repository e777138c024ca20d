"""A workflow's own live progress: phase, current step, steps done / total and its events,
read from the `TenantStatus` it keeps in its state (the contract's `STATUS_STATE_KEY`) when it
has a `status` handler; for a state machine, the state it is in and its history (its
`MachineStatus`). Read through the admin API's SQL, so a poll starts no invocation."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from typing import Any

from pydantic import JsonValue, ValidationError

from services.contract import (
    STATE_MACHINE_SERVICE,
    STATUS_HANDLER,
    STATUS_STATE_KEY,
    MachineStatus,
    TenantStatus,
)

from ..models import ExecutionEvent
from .admin import AdminApi, sql_string
from .coalescing import Coalesced

__all__ = ["LiveProgress", "Progress"]

Progress = tuple[dict[str, JsonValue], list[ExecutionEvent]]
"""An execution's progress fields (phase, step, steps_done, steps_total) and events."""


def _progress_of(value: str) -> Progress:
    try:
        live = TenantStatus.model_validate(json.loads(value) or {})
    except (ValueError, ValidationError):  # a `status` handler that speaks another language
        return {}, []
    shown = live.model_dump(mode="json")
    progress: dict[str, JsonValue] = {
        key: shown[key] for key in ("phase", "step", "steps_done", "steps_total")
    }
    events = [
        ExecutionEvent(
            timestamp=event.at.astimezone(UTC),
            type=f"progress: {event.type}",
            details={"phase": event.phase.value, "step": event.step, "message": event.message},
        )
        for event in live.events
    ]
    return progress, events


def _machine_progress_of(value: str) -> Progress:
    try:
        live = MachineStatus.model_validate(json.loads(value) or {})
    except (ValueError, ValidationError):
        return {}, []
    events = [
        ExecutionEvent(
            timestamp=event.at.astimezone(UTC),
            type=event.type,
            details={"state": event.state, **event.details},
        )
        for event in live.events
    ]
    return {"state": live.state}, events


_Key = tuple[str, str, str]
"""Whose progress: the service, the key (its state's) and the invocation id."""


class LiveProgress:
    """Reads workflows' progress from their state; remembers which services report it."""

    def __init__(self, admin: AdminApi) -> None:
        self.admin = admin
        self._reports: dict[str, bool] = {}
        self._reads: Coalesced[_Key, Progress] = Coalesced(self._read)

    def forget(self, service: str) -> None:
        """Look again whether `service` reports progress (its code may have changed)."""
        self._reports.pop(service, None)

    async def _reports_progress(self, service: str) -> bool:
        if service not in self._reports:
            found = await self.admin.service(service)
            handlers = {h["name"] for h in (found or {}).get("handlers", [])}
            self._reports[service] = STATUS_HANDLER in handlers
        return self._reports[service]

    async def of(self, rows: Iterable[dict[str, Any]]) -> dict[str, Progress]:
        """The progress of each invocation in `rows` that has any, by invocation id: one
        query per service that reports progress (reads asked for together are joined)."""
        asked = [
            (
                str(row.get("target_service_name")),
                str(row.get("target_service_key")),
                str(row["id"]),
            )
            for row in rows
        ]
        return {key[2]: progress for key, progress in (await self._reads.get(asked)).items()}

    async def _read(self, asked: list[_Key]) -> dict[_Key, Progress]:
        """The progress of each (service, key, invocation id) asked for that has any."""
        keys: dict[str, dict[str, list[_Key]]] = defaultdict(lambda: defaultdict(list))
        for key in asked:
            keys[key[0]][key[1]].append(key)
        found: dict[_Key, Progress] = {}
        for service, by_key in keys.items():
            if not await self._reports_progress(service):
                continue
            read = _machine_progress_of if service == STATE_MACHINE_SERVICE else _progress_of
            listed = ", ".join(sql_string(key) for key in by_key)
            states = await self.admin.query(
                f"SELECT service_key, value_utf8 FROM state WHERE service_name = "
                f"{sql_string(service)} AND key = {sql_string(STATUS_STATE_KEY)} "
                f"AND service_key IN ({listed})"
            )
            for state in states:
                if state.get("value_utf8"):
                    progress = read(str(state["value_utf8"]))
                    found.update(
                        (key, progress) for key in by_key.get(str(state["service_key"]), [])
                    )
        return found
