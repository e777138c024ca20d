"""Compute backends: where tenants run. One Protocol, one module per backend."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from .local import LocalBackend
from .mock import MockBackend, MockComputeConfig
from .protocol import (
    ComputeBackend,
    ComputeConfigError,
    ComputeRejectedError,
    ComputeState,
    TenantRef,
)

__all__ = [
    "BACKENDS",
    "ComputeBackend",
    "ComputeConfigError",
    "ComputeRejectedError",
    "ComputeState",
    "LocalBackend",
    "MockBackend",
    "MockComputeConfig",
    "TenantRef",
    "backend_for",
]


def _local() -> ComputeBackend:
    from ..settings import services_settings

    return LocalBackend(state_dir=services_settings().state_dir)


def _docker() -> ComputeBackend:
    from .docker import DockerBackend

    return DockerBackend()


def _ecs() -> ComputeBackend:
    from .ecs import EcsBackend

    return EcsBackend()


BACKENDS: dict[str, Callable[[], ComputeBackend]] = {
    "local": _local,
    "docker": _docker,
    "ecs": _ecs,
    "mock": MockBackend,
}


@cache
def backend_for(name: str) -> ComputeBackend:
    """The process's backend called `name` (made on first use); unknown names raise KeyError."""
    return BACKENDS[name]()
