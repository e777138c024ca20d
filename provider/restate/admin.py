"""Restate's admin API: deployments, services, invocations, and SQL over its system tables."""

from __future__ import annotations

import re
from typing import Any, Literal

import httpx

from .._exceptions import ExecutionNotFoundError, ProviderUnavailableError
from .http import RestateHttp

__all__ = ["AdminApi", "restate_message", "sql_string"]


def restate_message(response: httpx.Response, *, limit: int = 400) -> str:
    """Restate's own words from an error answer: the `message` of its JSON body (its error code
    once, not repeated), else the body as text."""
    try:
        message = str(response.json()["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:limit]
    code = re.match(r"(\[[A-Z]+\d+\] )\1+", message)
    return (message[len(code.group(0)) - len(code.group(1)) :] if code else message)[:limit]


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
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def services(self) -> dict[str, dict[str, Any]]:
        """Every registered service by name (`GET /services`)."""
        response = await self.http.request("GET", "/services")
        response.raise_for_status()
        return {service["name"]: service for service in response.json()["services"]}

    async def set_public(self, name: str, public: bool) -> None:
        """Allow (or stop) new invocations of a service through the ingress."""
        response = await self.http.request("PATCH", f"/services/{name}", json={"public": public})
        response.raise_for_status()

    async def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of a SQL query over the system tables (JSON; null columns are omitted)."""
        response = await self.http.request(
            "POST", "/query", json={"query": sql}, headers={"Accept": "application/json"}
        )
        response.raise_for_status()
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
        response.raise_for_status()
        return "accepted"

    async def health(self) -> bool:
        """Whether the admin API answers its health check."""
        return (await self.http.request("GET", "/health")).is_success
