"""How the contract suite drives each provider: a factory plus the provider-specific bits
(a valid definition, a spec whose executions stay live). Add a target to add a provider."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.config import DefaultConfig

from local_stack import LocalRestateServer
from provider import Provider, WorkflowSpec
from provider.config import RestateSettings
from provider.config.settings import StepFunctionsSettings
from provider.mock import MockBehavior, MockProvider
from provider.restate import RestateProvider
from provider.stepfunctions import StepFunctionsProvider
from tests.integration.apps.contract import POOL


@dataclass(frozen=True)
class ContractTarget:
    """One provider under contract test."""

    name: str
    open: Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[Provider]]
    spec: Callable[..., WorkflowSpec]
    """spec(workflow_id, *, long_running=False): a valid spec; long-running ones stay live
    until stopped (so stop/cancel can be observed)."""
    terminal_within: timedelta = timedelta(seconds=30)
    provider_name: str = ""
    """The provider's own name, when the target's says more (`mock-asl` runs `mock`)."""

    @property
    def provider(self) -> str:
        return self.provider_name or self.name


@asynccontextmanager
async def _mock(request: pytest.FixtureRequest) -> AsyncIterator[Provider]:
    provider = MockProvider()
    try:
        yield provider
    finally:
        await provider.aclose()


def _mock_spec(workflow_id: str, *, long_running: bool = False, **extra: Any) -> WorkflowSpec:
    behavior = MockBehavior.run_forever() if long_running else MockBehavior.succeed()
    return WorkflowSpec(
        workflow_id=workflow_id,
        provider_type="mock",
        name=f"contract {workflow_id}",
        definition={"steps": ["plan", "provision"]},
        timeout=timedelta(minutes=5),
        provider_config=behavior.model_dump(mode="json"),
        **extra,
    )


_CONTRACT_APP = "tests.integration.apps.contract:app"


@asynccontextmanager
async def _restate(request: pytest.FixtureRequest) -> AsyncIterator[Provider]:
    server: LocalRestateServer = request.getfixturevalue("restate_server")
    app_url: str = request.getfixturevalue("contract_app_url")
    provider = RestateProvider(
        RestateSettings(
            endpoint=server.ingress_url,
            admin_endpoint=server.admin_url,
            deployment_uri=app_url,
            register_on_startup=False,
        )
    )
    try:
        yield provider
    finally:
        await provider.aclose()


_next_service = itertools.count()


def _restate_spec(workflow_id: str, *, long_running: bool = False, **extra: Any) -> WorkflowSpec:
    index = next(_next_service)
    assert index < POOL, "the contract app's pool of services is used up"
    return WorkflowSpec(
        workflow_id=workflow_id,
        provider_type="restate",
        definition={
            "service": f"ContractWait{index}" if long_running else f"ContractEcho{index}",
            "pass_policy": False,
        },
        timeout=timedelta(minutes=5),
        **extra,
    )


SFN_REGION = "us-east-1"
SFN_ROLE_ARN = "arn:aws:iam::123456789012:role/landlord-contract"
MOTO_EXECUTES: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
"""moto runs the ASL (Pass, Wait, Choice, Fail, timeouts, StopExecution) instead of answering
with canned histories: executions reach SUCCEEDED with their output, or stay RUNNING in a Wait
state until stopped (ABORTED)."""


def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and no shared AWS config, so nothing can reach a real account."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", SFN_REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


_sessions: list[boto3.session.Session] = []


def moto_sfn_client() -> Any:
    """A Step Functions client from one shared session: a new session costs each test ~0.2 s
    of loading botocore's models, a client from a warm one almost nothing."""
    if not _sessions:
        _sessions.append(boto3.session.Session(region_name=SFN_REGION))
    return _sessions[0].client("stepfunctions")


def stop_running_executions() -> None:
    """Stop what a test left running, so that no Wait state outlives the mock."""
    client = moto_sfn_client()
    for machine in client.list_state_machines()["stateMachines"]:
        running = client.list_executions(
            stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING"
        )
        for execution in running["executions"]:
            client.stop_execution(executionArn=execution["executionArn"])


@asynccontextmanager
async def _step_functions(request: pytest.FixtureRequest) -> AsyncIterator[Provider]:
    fake_aws_credentials(request.getfixturevalue("monkeypatch"))
    with mock_aws(config=MOTO_EXECUTES):
        provider = StepFunctionsProvider(
            StepFunctionsSettings(region=SFN_REGION, role_arn=SFN_ROLE_ARN),
            client_factory=moto_sfn_client,
        )
        try:
            yield provider
        finally:
            await provider.aclose()
            stop_running_executions()


def _machine(workflow_id: str, *, long_running: bool) -> dict[str, Any]:
    """Plan → Provision as ASL; a long-running one waits an hour in Provision."""
    provision: dict[str, Any] = (
        {"Type": "Wait", "Seconds": 3600, "End": True}
        if long_running
        else {"Type": "Pass", "End": True}
    )
    return {
        "Comment": f"contract {workflow_id}",
        "StartAt": "Plan",
        "States": {"Plan": {"Type": "Pass", "Next": "Provision"}, "Provision": provision},
    }


def _asl_spec(provider_type: str) -> Callable[..., WorkflowSpec]:
    """Specs of the same ASL definition for `provider_type`."""

    def spec(workflow_id: str, *, long_running: bool = False, **extra: Any) -> WorkflowSpec:
        config = extra.pop("provider_config", {})
        if provider_type == "mock" and long_running:  # a Wait takes no time in memory
            config = MockBehavior.run_forever().model_dump(mode="json")
        return WorkflowSpec(
            workflow_id=workflow_id,
            provider_type=provider_type,
            definition=_machine(workflow_id, long_running=long_running),
            timeout=timedelta(minutes=5),
            provider_config=config,
            **extra,
        )

    return spec


TARGETS = [
    ContractTarget(name="mock", open=_mock, spec=_mock_spec),
    ContractTarget(name="restate", open=_restate, spec=_restate_spec),
    ContractTarget(name="step-functions", open=_step_functions, spec=_asl_spec("step-functions")),
    ContractTarget(name="mock-asl", open=_mock, spec=_asl_spec("mock"), provider_name="mock"),
    ContractTarget(
        name="restate-asl", open=_restate, spec=_asl_spec("restate"), provider_name="restate"
    ),
]
"""Every provider, and the same ASL definition on each of the three engines."""
