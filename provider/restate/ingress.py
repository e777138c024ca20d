"""Restate's ingress: start workflows, read their output, call their shared handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from .._exceptions import WorkflowNotFoundError
from .http import RestateHttp

__all__ = ["IngressApi", "Sent"]


@dataclass(frozen=True)
class Sent:
    """The invocation a send started, or found already started under that key."""

    invocation_id: str
    previously_accepted: bool


class IngressApi:
    """Typed calls to the ingress of one Restate server; trace context travels along."""

    def __init__(self, http: RestateHttp) -> None:
        self.http = http

    async def send(
        self,
        workflow_id: str,
        service: str,
        key: str,
        handler: str,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        delay: str | None = None,
    ) -> Sent:
        """Start `service/key/handler` without waiting (a workflow key runs at most once);
        `headers` are journaled with the input; with `delay` (e.g. "30m") it runs that much
        later."""
        response = await self.http.request(
            "POST",
            f"/restate/send/{service}/{key}/{handler}",
            content=body,
            headers={"content-type": "application/json", **(headers or {})},
            params={"delay": delay} if delay else None,
            propagate_trace=True,
        )
        if response.status_code in (400, 404) and "not" in response.text:
            raise WorkflowNotFoundError(workflow_id)
        self.http.check(response)
        answer = response.json()
        return Sent(answer["invocationId"], answer.get("status") == "PreviouslyAccepted")

    async def call(
        self, service: str, key: str | None, handler: str, body: Any = None
    ) -> httpx.Response:
        """Call a handler and wait for its answer (any status code is returned)."""
        target = (
            f"/restate/call/{service}/{key}/{handler}"
            if key
            else f"/restate/call/{service}/{handler}"
        )
        return await self.http.request("POST", target, json=body, propagate_trace=True)

    async def resolve_awakeable(self, awakeable_id: str, value: Any) -> None:
        """Complete an awakeable with `value` (an awakeable already completed stays as it was)."""
        response = await self.http.request(
            "POST", f"/restate/awakeables/{awakeable_id}/resolve", json=value
        )
        if response.status_code != 404:
            self.http.check(response)

    async def attach(self, invocation_id: str, *, seconds: float) -> bool:
        """`GET /restate/invocation/{id}/attach`, which answers when the invocation ends:
        whether it answered within `seconds`."""
        response = await self.http.wait(f"/restate/invocation/{invocation_id}/attach", seconds)
        return response is not None

    async def invocation_output(self, invocation_id: str) -> httpx.Response:
        """`GET /restate/invocation/{id}/output`: 200 with the result, 470 while running."""
        return await self.http.request("GET", f"/restate/invocation/{invocation_id}/output")
