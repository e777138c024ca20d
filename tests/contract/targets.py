"""How the contract suite drives each provider: a factory plus the provider-specific bits
(a valid definition, a spec whose executions stay live). Add a target to add a provider."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from provider import Provider, WorkflowSpec
from provider.config import RestateSettings
from provider.mock import MockBehavior, MockProvider
from provider.restate import LocalRestateServer, RestateProvider
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


TARGETS = [
    ContractTarget(name="mock", open=_mock, spec=_mock_spec),
    ContractTarget(name="restate", open=_restate, spec=_restate_spec),
]
