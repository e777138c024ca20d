"""The example in examples/: a tenant's lifecycle orchestrated in Amazon States Language, run on
Restate (the real tenant workflow behind the `restate:` task, a real webhook behind the HTTP
task), on the mock (the tenant workflow's answer given in code), and on Step Functions in moto
(both tasks pointed at Lambda functions: AWS has no `restate:` resource, moto no HTTP task)."""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest

from local_stack import LocalRestateServer
from provider import ExecutionInput, ExecutionState, WorkflowSpec
from provider.config import RestateSettings
from provider.config.settings import StepFunctionsSettings
from provider.mock import MockProvider
from provider.restate import RestateProvider
from provider.stepfunctions import StepFunctionsProvider
from tests.aws import fake_aws
from tests.servers import AsgiProcess

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenant_lifecycle.asl.json"
PROVISION = "restate:TenantProvisioning/$$.Execution.Name/run"
WAIT = timedelta(seconds=60)
REGION = "us-east-1"


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return definition


class _Hooks(BaseHTTPRequestHandler):
    """The control plane's webhook: records what it was sent."""

    received: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.received.append(json.loads(self.rfile.read(length) or b"null"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/tenants"
    finally:
        server.shutdown()


def _order(webhook: str, *, tenant: str, tier: str = "pro", regions: int = 1) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "tier": tier,
        "image": "nginx:1.27",
        "regions": [f"region-{n}" for n in range(regions)],
        "compute_provider": "mock",
        "notify_url": webhook,
    }


def _spec(provider_type: str, definition: dict[str, Any]) -> WorkflowSpec:
    return WorkflowSpec(
        workflow_id="tenant-lifecycle",
        provider_type=provider_type,
        definition=definition,
        timeout=timedelta(minutes=10),
    )


# -- Restate ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def services(
    restate_server: LocalRestateServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AsgiProcess]:
    served = AsgiProcess(
        app_ref="services.app:app",
        work_dir=tmp_path_factory.mktemp("services"),
        env={"LANDLORD_SERVICES_STATE_DIR": str(tmp_path_factory.mktemp("tenants"))},
    )
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
async def restate_provider(
    restate_server: LocalRestateServer, services: AsgiProcess
) -> AsyncIterator[RestateProvider]:
    provider = RestateProvider(
        RestateSettings(
            endpoint=restate_server.ingress_url,
            admin_endpoint=restate_server.admin_url,
            deployment_uri=services.url,
            register_on_startup=False,
        )
    )
    try:
        yield provider
    finally:
        await provider.aclose()


async def test_on_restate_the_tenant_workflow_provisions_and_the_webhook_hears(
    restate_provider: RestateProvider, webhook: str
) -> None:
    tenant = f"acme-{uuid.uuid4().hex[:6]}"
    await restate_provider.create_workflow(_spec("restate", _definition()))
    started = await restate_provider.start_execution(
        "tenant-lifecycle",
        ExecutionInput(execution_name=f"provision-{tenant}", input=_order(webhook, tenant=tenant)),
    )
    status = await restate_provider.wait_for_execution(started.execution_id, timeout=WAIT)
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == {"tenant_id": tenant, "operation": "provision"}
    assert {"tenant_id": tenant, "event": "provisioned"} in _Hooks.received
    entered = [e.details["state"] for e in status.history if e.type.endswith("StateEntered")]
    assert entered == ["Plan", "Allowed?", "Provision", "Notify"]


async def test_on_restate_the_tier_refuses_before_anything_is_provisioned(
    restate_provider: RestateProvider, webhook: str
) -> None:
    tenant = f"free-{uuid.uuid4().hex[:6]}"
    await restate_provider.create_workflow(_spec("restate", _definition()))
    started = await restate_provider.start_execution(
        "tenant-lifecycle",
        ExecutionInput(
            execution_name=f"provision-{tenant}",
            input=_order(webhook, tenant=tenant, tier="free", regions=2),
        ),
    )
    status = await restate_provider.wait_for_execution(started.execution_id, timeout=WAIT)
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert status.error.code == "Tenant.TierRefused"
    assert not [e for e in status.history if e.type == "TaskScheduled"]


# -- mock ------------------------------------------------------------------------------------


async def test_on_the_mock_the_tenant_workflow_is_answered_in_code(webhook: str) -> None:
    asked: list[Any] = []

    async def tenant_workflow(request: Any) -> Any:
        asked.append(request)
        return {"tenant_id": request["tenant_id"], "operation": "provision", "phase": "ready"}

    provider = MockProvider(tasks={PROVISION: tenant_workflow})
    await provider.create_workflow(_spec("mock", _definition()))
    started = await provider.start_execution(
        "tenant-lifecycle",
        ExecutionInput(execution_name="provision-mock", input=_order(webhook, tenant="mocked")),
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
    assert {"tenant_id": "mocked", "event": "provisioned"} in _Hooks.received


# -- Step Functions (moto) -------------------------------------------------------------------


def _on_lambda(definition: dict[str, Any], functions: dict[str, str]) -> dict[str, Any]:
    """The example with each named task pointed at a Lambda function."""
    for state, arn in functions.items():
        definition["States"][state]["Resource"] = arn
    return definition


async def test_on_step_functions_the_same_definition_runs_with_its_tasks_on_lambda(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = {"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}
    with fake_aws(monkeypatch, region=REGION, config=config):
        role = boto3.client("iam").create_role(RoleName="lifecycle", AssumeRolePolicyDocument="{}")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
        functions = {
            state: boto3.client("lambda").create_function(
                FunctionName=f"lifecycle-{state.lower()}",
                Runtime="python3.12",
                Role=role["Role"]["Arn"],
                Handler="handler.handle",
                Code={"ZipFile": code.getvalue()},
            )["FunctionArn"]
            for state in ("Provision", "Notify")
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
                    input=_order("http://unused.invalid/", tenant="stepped"),
                ),
            )
            status = await provider.wait_for_execution(started.execution_id, timeout=WAIT)
        finally:
            await provider.aclose()
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == {"tenant_id": "stepped", "operation": "provision"}
