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


def _extra_missing(name: str) -> ComputeConfigError:
    """A backend whose library this install left out (it is an optional extra)."""
    return ComputeConfigError(
        "",
        f"compute_provider {name!r} needs the {name!r} extra "
        f"(pip install 'landlord-restate[{name}]')",
    )


def _docker() -> ComputeBackend:
    try:
        from .docker import DockerBackend
    except ImportError:
        raise _extra_missing("docker") from None
    return DockerBackend()


def _ecs() -> ComputeBackend:
    try:
        from .ecs import EcsBackend
    except ImportError:
        raise _extra_missing("ecs") from None
    return EcsBackend()


BACKENDS: dict[str, Callable[[], ComputeBackend]] = {
    "local": _local,
    "docker": _docker,
    "ecs": _ecs,
    "mock": MockBackend,
}


@cache
def backend_for(name: str) -> ComputeBackend:
    """The process's backend called `name` (made on first use); unknown names raise KeyError,
    a backend whose extra is not installed `ComputeConfigError`."""
    return BACKENDS[name]()
