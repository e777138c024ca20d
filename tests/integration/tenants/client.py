"""A small test client for the TenantProvisioning workflow over Restate's HTTP APIs."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

SERVICE = "TenantProvisioning"


class TenantClient:
    """Start, watch, cancel and read tenant workflows through the ingress and admin APIs."""

    def __init__(self, *, ingress_url: str, admin_url: str) -> None:
        self.ingress = ingress_url
        self.admin = admin_url
        self.http = httpx.Client(timeout=60.0, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def send(self, key: str, request: dict[str, Any]) -> str:
        """Start the workflow `key`; returns the invocation id."""
        response = self.http.post(f"{self.ingress}/restate/send/{SERVICE}/{key}/run", json=request)
        assert response.status_code == 202, response.text
        invocation_id: str = response.json()["invocationId"]
        return invocation_id

    def call(self, key: str, request: dict[str, Any] | bytes) -> httpx.Response:
        """Run the workflow `key` and wait for its result (any status code)."""
        url = f"{self.ingress}/restate/call/{SERVICE}/{key}/run"
        if isinstance(request, bytes):
            return self.http.post(
                url, content=request, headers={"content-type": "application/json"}
            )
        return self.http.post(url, json=request)

    def attach(self, key: str) -> httpx.Response:
        """Wait for the workflow's result."""
        return self.http.get(f"{self.ingress}/restate/workflow/{SERVICE}/{key}/attach")

    def status(self, key: str) -> dict[str, Any]:
        """The workflow's live status (its shared `status` handler)."""
        response = self.http.post(f"{self.ingress}/restate/call/{SERVICE}/{key}/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait_for(self, key: str, predicate: Any, *, within: float = 60.0) -> dict[str, Any]:
        """Poll the live status until `predicate(status)` holds (or fail at the deadline)."""
        deadline = time.monotonic() + within
        while True:
            status = self.status(key)
            if predicate(status):
                return status
            assert time.monotonic() < deadline, f"status never matched: {status}"
            time.sleep(0.05)

    def cancel(self, invocation_id: str) -> None:
        """Cancel gracefully (compensations run)."""
        response = self.http.patch(f"{self.admin}/invocations/{invocation_id}/cancel")
        assert response.status_code == 202, response.text

    def kill(self, invocation_id: str) -> None:
        """Kill: the invocation ends at once, running none of its code."""
        response = self.http.patch(f"{self.admin}/invocations/{invocation_id}/kill")
        assert response.status_code == 200, response.text

    def lock_state(self, tenant: str, key: str) -> Any:
        """One key of the tenant's lock state (None when absent), read through the admin API
        (creates nothing)."""
        rows = self.query(
            "SELECT value_utf8 FROM state WHERE service_name = 'TenantLock' "
            f"AND service_key = '{tenant}' AND key = '{key}'"
        )
        return json.loads(rows[0]["value_utf8"]) if rows else None

    def lock_holder(self, tenant: str) -> str | None:
        """Which execution holds the tenant."""
        holder: str | None = self.lock_state(tenant, "holder")
        return holder

    def lock_calls(self, tenant: str) -> list[str]:
        """The handlers of the tenant lock's invocations so far, oldest first (a lease timer
        is an `expire`, scheduled until its lease ends)."""
        rows = self.query(
            "SELECT target_handler_name FROM sys_invocation WHERE target_service_name = "
            f"'TenantLock' AND target_service_key = '{tenant}' ORDER BY created_at"
        )
        return [str(row["target_handler_name"]) for row in rows]

    def wait_unlocked(self, *tenants: str, within: float = 60.0) -> None:
        """Until no operation holds these tenants (the release is a one-way call: it may still
        be on its way, or retried after a crash)."""
        listed = ", ".join(f"'{tenant}'" for tenant in tenants)
        deadline = time.monotonic() + within
        while True:
            held = self.query(
                "SELECT service_key, value_utf8 FROM state WHERE service_name = 'TenantLock' "
                f"AND service_key IN ({listed}) AND key = 'holder'"
            )
            if not held:
                return
            assert time.monotonic() < deadline, f"tenant locks never released: {held}"
            time.sleep(0.05)

    def journal_names(self, invocation_id: str) -> list[str]:
        """The names of the invocation's journaled steps, in order."""
        rows = self.query(
            f"SELECT name FROM sys_journal WHERE id = '{invocation_id}' "
            "AND entry_type = 'Command: Run' ORDER BY index"
        )
        return [str(row.get("name")) for row in rows]

    def query(self, sql: str) -> list[dict[str, Any]]:
        """Rows of an admin SQL query."""
        response = self.http.post(
            f"{self.admin}/query", json={"query": sql}, headers={"Accept": "application/json"}
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows
