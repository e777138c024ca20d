"""What `RestateProvider.health` checks: the admin API and the ingress answer, the server runs
the release line this project pins, Restate can reach each deployment the stored workflows
register (a dry-run discovery, which changes nothing), and each stored workflow's service is
registered and public."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from local_stack.install import RESTATE_SERVER_VERSION

from .._exceptions import ProviderUnavailableError, WorkflowError
from ..models import HealthCheck
from .admin import AdminApi
from .deployments import discover
from .http import RestateHttp

__all__ = ["deployment_checks", "server_checks", "service_availability"]


def _line(version: str) -> tuple[str, ...]:
    """The release line of a version: `1.7.12` → `("1", "7")`."""
    return tuple(version.split(".")[:2])


class _UnwantedAnswerError(Exception):
    """A probe got an answer, and the answer is not what is needed."""


async def _check(name: str, probe: Callable[[], Awaitable[str]]) -> HealthCheck:
    """Run one probe: what it saw, or the error's one line."""
    try:
        return HealthCheck(name=name, ok=True, detail=await probe())
    except (WorkflowError, _UnwantedAnswerError) as error:
        return HealthCheck(name=name, ok=False, detail=str(error))


async def server_checks(admin: AdminApi, ingress: RestateHttp) -> list[HealthCheck]:
    """Admin API, ingress and the server's version (the same major.minor as the pinned one)."""

    async def admin_answers() -> str:
        if not await admin.health():
            raise ProviderUnavailableError(admin.http.base_url, reason="/health did not answer 200")
        return admin.http.base_url

    async def ingress_answers() -> str:
        response = await ingress.request("GET", "/restate/health")
        if not response.is_success:
            raise ProviderUnavailableError(
                ingress.base_url, reason=f"/restate/health answered {response.status_code}"
            )
        return ingress.base_url

    async def pinned_line() -> str:
        found = await admin.version()
        if _line(found) != _line(RESTATE_SERVER_VERSION):
            raise _UnwantedAnswerError(
                f"{found}, not the {'.'.join(_line(RESTATE_SERVER_VERSION))} line this release "
                f"is built for ({RESTATE_SERVER_VERSION})"
            )
        return f"{found} (pinned {RESTATE_SERVER_VERSION})"

    checks = [await _check("admin API", admin_answers), await _check("ingress", ingress_answers)]
    if checks[0].ok:
        checks.append(await _check("server version", pinned_line))
    return checks


async def deployment_checks(
    admin: AdminApi, targets: Iterable[dict[str, Any]]
) -> list[HealthCheck]:
    """For each deployment (`uri` or Lambda `arn`), whether Restate can reach and discover it."""
    checks = []
    for target in targets:
        where = str(target.get("uri") or target.get("arn"))

        async def reached(target: dict[str, Any] = target) -> str:
            services = await discover(admin, target)
            return "serves " + ", ".join(sorted(s["name"] for s in services))

        checks.append(await _check(f"deployment {where}", reached))
    return checks


async def service_availability(admin: AdminApi, services: Iterable[str]) -> dict[str, bool]:
    """Whether each service is registered and public (asked once per service)."""
    available = {}
    for service in sorted(set(services)):
        found = await admin.service(service)
        available[service] = bool(found and found.get("public", True))
    return available
