"""Both sides spell the contract from `services.contract`: what the deployment declares is
what the contract names, so a change on one side without the other fails here."""

from __future__ import annotations

import json

import pytest
from restate.discovery import compute_discovery_json
from restate.endpoint import Endpoint

import services.app as deployment
from provider.config import RestateSettings
from provider.restate import BUILTIN_WORKFLOW_ID, tenant_workflow_spec
from provider.restate.names import service_name_for
from services.contract import (
    DEADLINE_HANDLER,
    DEADLINE_SERVICE,
    DEFINITIONS_SERVICE,
    LOCK_SERVICE,
    STATE_MACHINE_BRANCH_SERVICE,
    STATE_MACHINE_HANDLER,
    STATE_MACHINE_SERVICE,
    STATUS_HANDLER,
    TENANT_RUN_HANDLER,
    TENANT_SERVICE,
    TENANT_WORKFLOW_ID,
    MachineRun,
    MachineStatus,
    ProvisionRequest,
    TenantStatus,
)


def _discovered() -> dict[str, dict[str, object]]:
    """The deployment as Restate discovers it (the manifest it registers)."""
    endpoint = Endpoint()  # type: ignore[no-untyped-call]
    for service in deployment.SERVICES:
        endpoint.bind(service)
    manifest = json.loads(compute_discovery_json(endpoint, 4, "bidi"))
    return {service["name"]: service for service in manifest["services"]}


def test_the_deployment_serves_the_services_the_contract_names() -> None:
    services = {service.name: service for service in deployment.SERVICES}
    assert set(services) == {
        TENANT_SERVICE,
        LOCK_SERVICE,
        DEFINITIONS_SERVICE,
        DEADLINE_SERVICE,
        STATE_MACHINE_SERVICE,
        STATE_MACHINE_BRANCH_SERVICE,
    }
    assert {TENANT_RUN_HANDLER, STATUS_HANDLER} <= set(services[TENANT_SERVICE].handlers)
    assert DEADLINE_HANDLER in services[DEADLINE_SERVICE].handlers
    tenant = services[TENANT_SERVICE].handlers
    published = tenant[TENANT_RUN_HANDLER].handler_io.input_type
    answered = tenant[STATUS_HANDLER].handler_io.output_type
    assert published is not None
    assert published.annotation is ProvisionRequest
    assert answered is not None
    assert answered.annotation is TenantStatus
    machine = services[STATE_MACHINE_SERVICE].handlers
    assert {STATE_MACHINE_HANDLER, STATUS_HANDLER} <= set(machine)
    assert STATE_MACHINE_HANDLER in services[STATE_MACHINE_BRANCH_SERVICE].handlers
    started = machine[STATE_MACHINE_HANDLER].handler_io.input_type
    shown = machine[STATUS_HANDLER].handler_io.output_type
    assert started is not None
    assert started.annotation is MachineRun
    assert shown is not None
    assert shown.annotation is MachineStatus


@pytest.mark.parametrize(
    ("service", "private"),
    [
        (DEFINITIONS_SERVICE, True),
        (LOCK_SERVICE, True),
        (STATE_MACHINE_BRANCH_SERVICE, True),
        (STATE_MACHINE_SERVICE, False),
    ],
)
def test_internal_objects_are_private_in_what_restate_discovers(
    service: str, private: bool
) -> None:
    assert _discovered()[service].get("ingressPrivate", False) is private


def test_the_control_plane_registers_the_workflow_the_deployment_serves() -> None:
    spec = tenant_workflow_spec(RestateSettings())
    assert spec.workflow_id == BUILTIN_WORKFLOW_ID == TENANT_WORKFLOW_ID
    assert spec.definition == {"service": TENANT_SERVICE}
    assert service_name_for(TENANT_WORKFLOW_ID) == TENANT_SERVICE
