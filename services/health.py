"""The services' own health: whether each compute backend they are set to check can do its
work now (`LANDLORD_SERVICES_HEALTH_BACKENDS`), answered at `GET /health`."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from .compute import ComputeConfigError, backend_for
from .settings import services_settings

__all__ = ["CHECK_TIMEOUT", "BackendCheck", "ServicesHealth", "check_backends"]

CHECK_TIMEOUT = 5.0
"""Seconds one backend may take to answer before it counts as unreachable."""


class BackendCheck(BaseModel):
    """One backend's answer: reachable or not, in one line."""

    backend: str
    healthy: bool
    detail: str


class ServicesHealth(BaseModel):
    """Healthy when every checked backend is (none checked: healthy, and `backends` empty)."""

    healthy: bool
    backends: list[BackendCheck]


async def _check(name: str) -> BackendCheck:
    try:
        backend = backend_for(name)
        detail = await asyncio.wait_for(backend.reachable(), timeout=CHECK_TIMEOUT)
    except ComputeConfigError as error:
        return BackendCheck(backend=name, healthy=False, detail=error.rule)
    except TimeoutError:
        return BackendCheck(
            backend=name, healthy=False, detail=f"no answer within {CHECK_TIMEOUT:g}s"
        )
    except Exception as error:  # noqa: BLE001 - any failure to reach is the answer itself
        line = str(error).splitlines()[0] if str(error) else ""
        return BackendCheck(
            backend=name, healthy=False, detail=f"{type(error).__name__}: {line}".rstrip(": ")
        )
    return BackendCheck(backend=name, healthy=True, detail=detail)


async def check_backends(names: list[str] | None = None) -> ServicesHealth:
    """Ask each backend in `names` (default: the configured ones) at once."""
    checked = services_settings().health_backends if names is None else names
    checks = list(await asyncio.gather(*(_check(name) for name in checked)))
    return ServicesHealth(healthy=all(c.healthy for c in checks), backends=checks)
