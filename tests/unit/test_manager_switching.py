"""One configuration key picks the engine: the same tenant workflow, run through the Manager that
`build_manager(load_settings(...))` makes, on mock, Step Functions (moto) and Restate.

Mock and Step Functions run the workflow end to end. A Restate server is not part of unit
tests, so for Restate the test shows the routing: every call reaches `RestateProvider`, which
reports the configured (unreachable) endpoint.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto import mock_aws

from local_stack.ports import free_port
from provider import (
    ExecutionInput,
    ExecutionState,
    Manager,
    ProviderUnavailableError,
    WorkflowSpec,
)
from provider.config import load_settings
from provider.factory import build_manager
from provider.mock import MockProvider
from provider.restate import RestateProvider
from provider.stepfunctions import StepFunctionsProvider
from tests.contract.targets import (
    MOTO_EXECUTES,
    SFN_ROLE_ARN,
    fake_aws_credentials,
    stop_running_executions,
)

WORKFLOW_ID = "tenant-provisioning"
TENANT = {"tenant_id": "acme", "operation": "provision", "desired_config": {"plan": "gold"}}

DEFINITIONS: dict[str, dict[str, Any]] = {
    "mock": {"steps": ["plan", "provision"]},
    "step-functions": {
        "StartAt": "Plan",
        "States": {
            "Plan": {"Type": "Pass", "Next": "Provision"},
            "Provision": {
                "Type": "Pass",
                "Result": {"phase": "ready"},
                "ResultPath": "$.result",
                "End": True,
            },
        },
    },
    "restate": {"service": "TenantProvisioning"},
}


def tenant_spec(provider: str) -> WorkflowSpec:
    """The tenant workflow: the same id, timeout and tags everywhere; only the definition is
    the engine's own. No provider_type: the configuration decides."""
    return WorkflowSpec(
        workflow_id=WORKFLOW_ID,
        definition=DEFINITIONS[provider],
        timeout=timedelta(minutes=30),
        tags={"team": "platform"},
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    fake_aws_credentials(monkeypatch)
    with mock_aws(config=MOTO_EXECUTES):
        try:
            yield
        finally:
            stop_running_executions()


def manager_for(default_provider: str, **environ: str) -> Manager:
    """The manager a process gets from its configuration alone."""
    settings = load_settings(
        environ={
            "LANDLORD_WORKFLOW_DEFAULT_PROVIDER": default_provider,
            "LANDLORD_WORKFLOW_STEP_FUNCTIONS_ROLE_ARN": SFN_ROLE_ARN,
            **environ,
        }
    ).settings
    return build_manager(settings)


def test_every_engine_is_registered_and_construction_does_no_io() -> None:
    manager = manager_for("mock")
    assert manager.list_providers() == ["mock", "restate", "step-functions"]
    assert isinstance(manager.provider("step-functions"), StepFunctionsProvider)


@pytest.mark.parametrize(
    ("default_provider", "expected_type"),
    [("mock", MockProvider), ("step-functions", StepFunctionsProvider)],
)
async def test_the_same_workflow_runs_end_to_end_on_the_configured_engine(
    aws: None, default_provider: str, expected_type: type
) -> None:
    manager = manager_for(default_provider)
    assert isinstance(manager.provider(), expected_type)
    try:
        created = await manager.create_workflow(tenant_spec(default_provider))
        assert created.provider_type == default_provider
        started = await manager.start_execution(
            WORKFLOW_ID, ExecutionInput(execution_name="acme-provision-rev-1", input=TENANT)
        )
        assert started.provider_type == default_provider
        deadline = time.monotonic() + 10
        while True:
            status = await manager.get_execution_status(started.execution_id)
            if status.state.is_terminal:
                break
            assert time.monotonic() < deadline, status
            await asyncio.sleep(0.02)
        assert status.state is ExecutionState.SUCCEEDED
        assert status.provider_type == default_provider
        assert isinstance(status.output, dict)
        assert status.output["tenant_id"] == "acme"
        listed = await manager.list_executions(WORKFLOW_ID)
        assert [item.execution_id for item in listed] == [started.execution_id]
        await manager.delete_workflow(WORKFLOW_ID)
    finally:
        await manager.aclose()


async def test_restate_as_default_routes_the_same_workflow_to_restate() -> None:
    ingress = f"http://127.0.0.1:{free_port()}"
    admin = f"http://127.0.0.1:{free_port()}"
    manager = manager_for(
        "restate",
        LANDLORD_WORKFLOW_RESTATE_ENDPOINT=ingress,
        LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT=admin,
        LANDLORD_WORKFLOW_RESTATE_RETRY_ATTEMPTS="0",
    )
    assert isinstance(manager.provider(), RestateProvider)
    try:
        with pytest.raises(ProviderUnavailableError) as created:
            await manager.create_workflow(tenant_spec("restate"))
        assert created.value.endpoint == admin  # registration goes to the admin API
        with pytest.raises(ProviderUnavailableError) as started:
            await manager.start_execution(
                WORKFLOW_ID, ExecutionInput(execution_name="acme-provision-rev-1", input=TENANT)
            )
        assert started.value.endpoint == admin  # the stored definition is read there first
    finally:
        await manager.aclose()
