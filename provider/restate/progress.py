"""A workflow's own live progress: phase, current step, steps done / total and its events,
read from its `status` handler (the contract's `TenantStatus`) when it has one."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pydantic import JsonValue, ValidationError

from services.contract import STATUS_HANDLER, TenantStatus

from ..models import ExecutionEvent
from .admin import AdminApi
from .ingress import IngressApi

__all__ = ["LiveProgress"]


class LiveProgress:
    """Asks a workflow for its status; remembers which services have a `status` handler."""

    def __init__(self, admin: AdminApi, ingress: IngressApi) -> None:
        self.admin = admin
        self.ingress = ingress
        self._reports: dict[str, bool] = {}

    def forget(self, service: str) -> None:
        """Look again whether `service` reports progress (its code may have changed)."""
        self._reports.pop(service, None)

    async def of(self, row: dict[str, Any]) -> tuple[dict[str, JsonValue], list[ExecutionEvent]]:
        """The progress and events of the invocation in `row`; nothing when it has none."""
        service = str(row.get("target_service_name"))
        if service not in self._reports:
            found = await self.admin.service(service)
            handlers = {h["name"] for h in (found or {}).get("handlers", [])}
            self._reports[service] = STATUS_HANDLER in handlers
        if not self._reports[service]:
            return {}, []
        response = await self.ingress.call(service, row.get("target_service_key"), STATUS_HANDLER)
        if not response.is_success or not response.content:
            return {}, []
        try:
            live = TenantStatus.model_validate(response.json() or {})
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
