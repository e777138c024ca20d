"""How the contract suite drives each provider: a factory plus the provider-specific bits
(a valid definition, a spec whose executions stay live). Add a target to add a provider."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from provider import Provider, WorkflowSpec
from provider.mock import MockBehavior, MockProvider


@dataclass(frozen=True)
class ContractTarget:
    """One provider under contract test."""

    name: str
    open: Callable[[], AbstractAsyncContextManager[Provider]]
    spec: Callable[..., WorkflowSpec]
    """spec(workflow_id, *, long_running=False): a valid spec; long-running ones stay live
    until stopped (so stop/cancel can be observed)."""
    terminal_within: timedelta = timedelta(seconds=30)


@asynccontextmanager
async def _mock() -> AsyncIterator[Provider]:
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


TARGETS = [ContractTarget(name="mock", open=_mock, spec=_mock_spec)]
