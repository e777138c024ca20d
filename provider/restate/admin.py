"""Restate's admin API: deployments, services, invocations, and SQL over its system tables."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Literal

from pydantic import JsonValue

from .._exceptions import ExecutionNotFoundError, ProviderUnavailableError
from .http import RestateHttp, restate_message

__all__ = ["VISIBLE_WITHIN", "AdminApi", "restate_message", "sql_string"]

VISIBLE_WITHIN = 5.0
"""Seconds a write (a new invocation, a state change) may take to show in SQL reads."""


def sql_string(value: str) -> str:
    """A SQL string literal (callers pass only validated ids; quotes are doubled regardless)."""
    return "'" + value.replace("'", "''") + "'"


class AdminApi:
    """Typed calls to the admin API of one Restate server."""

    def __init__(self, http: RestateHttp) -> None:
        self.http = http

    async def register(self, target: dict[str, Any], *, force: bool, dry_run: bool = False) -> Any:
        """`POST /deployments`; a deployment Restate cannot reach or discover is reported."""
        response = await self.http.request(
            "POST",
            "/deployments",
            json={**target, "force": force, "dry_run": dry_run},
            retry_server_errors=False,
        )
        if not response.is_success:
            raise ProviderUnavailableError(
                str(target.get("uri") or target.get("arn")),
                reason=f"Restate could not register it: {restate_message(response)}",
            )
        return response.json()

    async def service(self, name: str) -> dict[str, Any] | None:
        """`GET /services/{name}`, or None when no such service is registered."""
        response = await self.http.request("GET", f"/services/{name}")
        if response.status_code == 404:
            return None
        self.http.check(response)
        body: dict[str, Any] = response.json()
        return body

    async def services(self) -> dict[str, dict[str, Any]]:
        """Every registered service by name (`GET /services`)."""
        response = await self.http.request("GET", "/services")
        self.http.check(response)
        return {service["name"]: service for service in response.json()["services"]}

    async def set_public(self, name: str, public: bool) -> None:
        """Allow (or stop) new invocations of a service through the ingress."""
        response = await self.http.request("PATCH", f"/services/{name}", json={"public": public})
        self.http.check(response)

    async def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a SQL query over the system tables (JSON; null columns are omitted)."""
        response = await self.http.request(
            "POST", "/query", json={"query": sql}, headers={"Accept": "application/json"}
        )
        self.http.check(response)
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    async def cancel(self, invocation_id: str) -> Literal["accepted", "completed"]:
        """Graceful cancel: the handler sees it and compensates. Unknown (or an id Restate
        cannot decode, 400) → not found."""
        response = await self.http.request("PATCH", f"/invocations/{invocation_id}/cancel")
        if response.status_code in (400, 404):
            raise ExecutionNotFoundError(invocation_id)
        if response.status_code == 409:
            return "completed"
        self.http.check(response)
        return "accepted"

    async def state(self, service: str, key: str) -> dict[str, JsonValue]:
        """The state of one object (or workflow) key, value by state key (JSON values)."""
        rows = await self.query(
            f"SELECT key, value_utf8 FROM state WHERE service_name = {sql_string(service)} "
            f"AND service_key = {sql_string(key)}"
        )
        return {str(row["key"]): json.loads(row["value_utf8"]) for row in rows}

    async def set_state(self, service: str, key: str, state: dict[str, JsonValue]) -> None:
        """Replace the whole state of one object key (`POST /services/{service}/state`): how
        the control plane changes a private object without any handler being public. The
        write goes through Restate's log; this returns once a read sees it."""
        encoded = {name: list(json.dumps(value).encode()) for name, value in state.items()}
        response = await self.http.request(
            "POST", f"/services/{service}/state", json={"object_key": key, "new_state": encoded}
        )
        self.http.check(response)
        deadline = time.monotonic() + VISIBLE_WITHIN
        while await self.state(service, key) != state:
            if time.monotonic() >= deadline:
                raise ProviderUnavailableError(
                    self.http.base_url,
                    reason=f"the state of {service}/{key} was written but is not visible",
                )
            await asyncio.sleep(0.02)

    async def health(self) -> bool:
        """Whether the admin API answers its health check."""
        return (await self.http.request("GET", "/health")).is_success

    async def version(self) -> str:
        """The server's version (`GET /version`), e.g. `1.7.12`."""
        answer = self.http.check(await self.http.request("GET", "/version")).json()
        return str(answer.get("version", "")) if isinstance(answer, dict) else ""
