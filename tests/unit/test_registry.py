"""Registry: registration, lookup, listing, and safety under concurrent use."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from provider import ProviderConflictError, ProviderNotFoundError, Registry
from provider.mock import MockProvider


class Named(MockProvider):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def test_register_get_has_list() -> None:
    registry = Registry()
    mock, other = Named("mock"), Named("another")
    registry.register(mock)
    registry.register(other)
    assert registry.get("mock") is mock
    assert registry.has("another")
    assert not registry.has("restate")
    assert registry.list() == ["another", "mock"]


def test_second_provider_with_same_name_conflicts() -> None:
    registry = Registry()
    first = Named("mock")
    registry.register(first)
    with pytest.raises(ProviderConflictError, match="'mock' is already registered"):
        registry.register(Named("mock"))
    assert registry.get("mock") is first


def test_unknown_provider_lists_the_registered_ones() -> None:
    registry = Registry()
    registry.register(Named("mock"))
    with pytest.raises(ProviderNotFoundError) as raised:
        registry.get("restate")
    assert raised.value.registered == ["mock"]
    assert str(raised.value) == "workflow provider 'restate' is not registered (registered: mock)"


def test_concurrent_registration_of_one_name_admits_exactly_one() -> None:
    registry = Registry()
    barrier = threading.Barrier(16)

    def attempt(_: int) -> bool:
        barrier.wait()
        try:
            registry.register(Named("same"))
        except ProviderConflictError:
            return False
        return True

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count(True) == 1
    assert registry.list() == ["same"]


def test_concurrent_registration_of_many_names_keeps_them_all() -> None:
    registry = Registry()
    names = [f"p{i:03d}" for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: registry.register(Named(name)), names))
    assert registry.list() == names
    assert all(registry.get(name).name == name for name in names)
