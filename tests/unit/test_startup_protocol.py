"""Start-up work and health are declared protocols: the manager starts exactly the providers
that say they have some (`StartsUp`), whatever other attributes a provider has, and reports
the health of those that check it (`ChecksHealth`)."""

from __future__ import annotations

from provider import ChecksHealth, Manager, Registry, StartsUp
from provider.config import RestateSettings
from provider.mock import MockProvider
from provider.restate import RestateProvider


class _Recording(MockProvider):
    """A mock that declares start-up work and records that it ran."""

    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.started = 0

    async def start(self) -> None:
        self.started += 1


class _StartAttribute(MockProvider):
    """A `start` that is not start-up work, and no health report: not the protocol."""

    name = "start-attribute"
    start = "not a method"
    health = None  # type: ignore[assignment]


async def test_the_manager_starts_only_providers_that_declare_it() -> None:
    recording, plain, odd = _Recording(), MockProvider(), _StartAttribute()
    registry = Registry()
    for provider in (recording, plain, odd):
        registry.register(provider)
    assert isinstance(RestateProvider(RestateSettings()), StartsUp)
    assert isinstance(recording, StartsUp)
    assert not isinstance(plain, StartsUp)
    assert not isinstance(odd, StartsUp)
    manager = Manager(registry)
    await manager.start()
    await manager.start()
    assert recording.started == 2
    await manager.aclose()


async def test_health_comes_from_the_provider_and_a_provider_without_one_is_unhealthy() -> None:
    registry = Registry()
    mock = MockProvider()
    registry.register(mock)
    manager = Manager(registry, default_provider="mock")
    assert isinstance(mock, ChecksHealth)
    report = await manager.health()
    assert report.healthy
    assert [(c.name, c.ok) for c in report.checks] == [("engine", True)]

    silent = _StartAttribute()
    silent.name = "silent"
    registry.register(silent)
    unchecked = await manager.health(provider_type="silent")
    assert not unchecked.healthy
    assert unchecked.checks[0].detail == "this provider has no health check"
