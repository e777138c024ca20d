"""Transitions are POSTed to `api_base_url` durably: once per transition in effect."""

from __future__ import annotations

from .callbacks import CallbackServer
from .conftest import Stack
from .test_operations import key, request


def test_each_transition_is_posted_once(stack: Stack, tenant: str) -> None:
    with CallbackServer() as control_plane:
        response = stack.client.call(
            key(tenant, "provision"),
            request(tenant, "provision", api_base_url=control_plane.url),
        )
        assert response.status_code == 200, response.text
    keys = [k for k, _ in control_plane.received]
    assert len(keys) == len(set(keys)) == 2
    assert control_plane.phases() == ["provisioning", "ready"]
    body = control_plane.received[-1][1]
    assert body["tenant_id"] == tenant
    assert body["operation"] == "provision"
    assert body["event"]["type"] == "transition"


def test_failure_is_posted_too(stack: Stack, tenant: str) -> None:
    with CallbackServer() as control_plane:
        response = stack.client.call(
            key(tenant, "provision"),
            {
                "tenant_id": tenant,
                "operation": "provision",
                "compute_provider": "mock",
                "desired_config": {"fail_on": "provision", "failure": "permanent"},
                "api_base_url": control_plane.url,
            },
        )
        assert response.status_code == 422
    assert control_plane.phases() == ["provisioning", "failed"]
    assert "refuses to provision" in control_plane.received[-1][1]["event"]["message"]
