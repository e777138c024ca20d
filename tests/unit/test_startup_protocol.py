"""Start-up work is a declared protocol: the manager starts exactly the providers that say
they have some (`StartsUp`), whatever other attributes a provider has."""

from __future__ import annotations

from provider import Manager, Registry, StartsUp
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

    async def health(self) -> dict[str, object]:
        return {"reachable": True}


class _StartAttribute(MockProvider):
    """A `start` that is not start-up work (no `health`): not the protocol."""

    name = "start-attribute"
    start = "not a method"


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
