"""Registering a deployment idempotently: discover it (a dry run), compare with what Restate
has, and force a re-discovery only when the code changed, so a second create changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .admin import AdminApi

__all__ = ["discover", "register_deployment"]


def _differs(discovered: Mapping[str, Any], current: Mapping[str, Any] | None) -> bool:
    """Whether a freshly discovered service differs from the registered one."""
    if current is None or discovered.get("ty") != current.get("ty"):
        return True
    registered = {h["name"]: h for h in current.get("handlers", [])}
    found = {h["name"]: h for h in discovered.get("handlers", [])}
    if registered.keys() != found.keys():
        return True
    return any(
        registered[name].get(key) != value
        for name, handler in found.items()
        for key, value in handler.items()
    )


async def discover(admin: AdminApi, target: dict[str, Any]) -> list[dict[str, Any]]:
    """The services the deployment at `target` (`uri`, or a Lambda `arn`) would register."""
    dry = await admin.register(target, force=True, dry_run=True)
    services: list[dict[str, Any]] = dry.get("services", [])
    return services


async def register_deployment(admin: AdminApi, target: dict[str, Any]) -> dict[str, Any]:
    """Register `target`; force a re-discovery only when its services changed."""
    discovered = await discover(admin, target)
    current = await admin.services()
    changed = any(_differs(service, current.get(service["name"])) for service in discovered)
    registered: dict[str, Any] = await admin.register(target, force=changed)
    return registered
