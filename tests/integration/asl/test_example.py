"""The example in examples/: a tenant's lifecycle orchestrated in Amazon States Language, run on
Restate (the real tenant workflow behind the `restate:` task, a real webhook behind the HTTP
task), on the mock (the tenant workflow's answer given in code), and on Step Functions in moto
(both tasks pointed at Lambda functions: AWS has no `restate:` resource, moto no HTTP task)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from provider import ExecutionInput, ExecutionState, ExecutionStatus, WorkflowSpec
from provider.config.settings import StepFunctionsSettings
from provider.mock import MockProvider
from provider.restate import RestateProvider
from provider.stepfunctions import StepFunctionsProvider
from tests.aws import SIMPLE_LAMBDA, echo_function, fake_aws

from .target import HttpTarget

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "tenant_lifecycle.asl.json"
PROVISION = "restate:TenantProvisioning/$$.Execution.Name/run"
WAIT = timedelta(seconds=60)
HOOKS = "/hooks/tenants"
REGION = "us-east-1"


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return definition


def _order(
    target: HttpTarget, *, tenant: str, tier: str = "pro", regions: int = 1
) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "tier": tier,
        "image": "nginx:1.27",
        "regions": [f"region-{n}" for n in range(regions)],
        "compute_provider": "mock",
        "notify_url": f"{target.url}{HOOKS}",
    }


def _spec(provider_type: str, definition: dict[str, Any]) -> WorkflowSpec:
    return WorkflowSpec(
        workflow_id="tenant-lifecycle",
        provider_type=provider_type,
        definition=definition,
        timeout=timedelta(minutes=10),
    )


# -- Restate ---------------------------------------------------------------------------------


async def _on_restate(provider: RestateProvider, order: dict[str, Any]) -> ExecutionStatus:
    """Run the example on Restate for one tenant's order, to its end."""
    await provider.create_workflow(_spec("restate", _definition()))
    started = await provider.start_execution(
        "tenant-lifecycle",
        ExecutionInput(execution_name=f"provision-{order['tenant_id']}", input=order),
    )
    return await provider.wait_for_execution(started.execution_id, timeout=WAIT)


async def test_on_restate_the_tenant_workflow_provisions_and_the_webhook_hears(
    provider: RestateProvider, http_target: HttpTarget
) -> None:
    tenant = f"acme-{uuid.uuid4().hex[:6]}"
    status = await _on_restate(provider, _order(http_target, tenant=tenant))
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == {"tenant_id": tenant, "operation": "provision"}
    assert {"tenant_id": tenant, "event": "provisioned"} in http_target.bodies(HOOKS)
    entered = [e.details["state"] for e in status.history if e.type.endswith("StateEntered")]
    assert entered == ["Plan", "Allowed?", "Provision", "Notify"]


async def test_on_restate_the_tier_refuses_before_anything_is_provisioned(
    provider: RestateProvider, http_target: HttpTarget
) -> None:
    tenant = f"free-{uuid.uuid4().hex[:6]}"
    order = _order(http_target, tenant=tenant, tier="free", regions=2)
    status = await _on_restate(provider, order)
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert status.error.code == "Tenant.TierRefused"
    assert not [e for e in status.history if e.type == "TaskScheduled"]


# -- mock ------------------------------------------------------------------------------------


async def test_on_the_mock_the_tenant_workflow_is_answered_in_code(http_target: HttpTarget) -> None:
    asked: list[Any] = []

    async def tenant_workflow(request: Any) -> Any:
        asked.append(request)
        return {"tenant_id": request["tenant_id"], "operation": "provision", "phase": "ready"}

    provider = MockProvider(tasks={PROVISION: tenant_workflow})
    await provider.create_workflow(_spec("mock", _definition()))
    started = await provider.start_execution(
        "tenant-lifecycle",
        ExecutionInput(execution_name="provision-mock", input=_order(http_target, tenant="mocked")),
    )
    status = await provider.get_execution_status(started.execution_id)
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == {"tenant_id": "mocked", "operation": "provision"}
    assert asked == [
        {
            "tenant_id": "mocked",
            "operation": "provision",
            "compute_provider": "mock",
            "desired_config": {"settings": {"image": "nginx:1.27", "replicas": 1}},
        }
    ]
    assert {"tenant_id": "mocked", "event": "provisioned"} in http_target.bodies(HOOKS)


# -- Step Functions (moto) -------------------------------------------------------------------


def _on_lambda(definition: dict[str, Any], functions: dict[str, str]) -> dict[str, Any]:
    """The example with each named task pointed at a Lambda function."""
    for state, arn in functions.items():
        definition["States"][state]["Resource"] = arn
    return definition


async def test_on_step_functions_the_same_definition_runs_with_its_tasks_on_lambda(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {**SIMPLE_LAMBDA, "stepfunctions": {"execute_state_machine": True}}
    with fake_aws(monkeypatch, region=REGION, config=config):
        role = boto3.client("iam").create_role(RoleName="lifecycle", AssumeRolePolicyDocument="{}")
        functions = {
            state: echo_function(f"lifecycle-{state.lower()}") for state in ("Provision", "Notify")
        }
        provider = StepFunctionsProvider(
            StepFunctionsSettings(region=REGION, role_arn=role["Role"]["Arn"]),
            client_factory=lambda: boto3.client("stepfunctions", region_name=REGION),
        )
        try:
            await provider.create_workflow(
                _spec("step-functions", _on_lambda(_definition(), functions))
            )
            started = await provider.start_execution(
                "tenant-lifecycle",
                ExecutionInput(
                    execution_name="provision-sfn",
                    input=_order(HttpTarget("http://unused.invalid"), tenant="stepped"),
                ),
            )
            status = await provider.wait_for_execution(started.execution_id, timeout=WAIT)
        finally:
            await provider.aclose()
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == {"tenant_id": "stepped", "operation": "provision"}
