"""The long-running control plane's work (seed: workflow registration at start-up): register the
built-in tenant workflow, retrying while Restate or the services are down; re-check health every
interval, keeping the latest report; register again when Restate no longer has the workflow
(e.g. it lost its data). Serving the report over HTTP is `provider.controller_http`."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from telemetry import get_logger

from ._exceptions import InvalidSpecError, ProviderUnavailableError, WorkflowError
from .manager import Manager
from .models import HealthCheck, ProviderHealth
from .restate import BUILTIN_WORKFLOW_ID, RestateProvider, register_tenant_workflow

__all__ = ["NOT_CHECKED", "Controller"]

NOT_CHECKED = HealthCheck(name="controller", ok=False, detail="not checked yet")
"""The report's only check until the first health check has run."""


class Controller:
    """Keeps the built-in workflow registered with Restate and its latest health report.

    A refusal that cannot pass by waiting (an invalid spec, rejected credentials) is logged and
    shown as a failing `registration` check, and tried again each interval rather than ending
    the process: under the Restate operator "no service TenantProvisioning" is such a refusal
    until the operator has registered the services, and a crash loop would only hide the reason.
    """

    def __init__(self, manager: Manager, *, interval: timedelta) -> None:
        provider = manager.provider(RestateProvider.name)
        assert isinstance(provider, RestateProvider)
        self.manager = manager
        self.provider = provider
        self.interval = interval
        self.report = ProviderHealth(provider_type=provider.name, checks=[NOT_CHECKED])
        """The latest health report (what `GET /health` answers)."""
        self._registration: HealthCheck | None = None
        self._registered = False
        settings = provider.settings
        self._ids = {
            "workflow_id": BUILTIN_WORKFLOW_ID,
            "admin_url": settings.admin_endpoint,
            "deployment": settings.lambda_arn
            if settings.execution_mechanism == "lambda"
            else settings.deployment_uri,
        }
        """On every line of a round, the retry lines of stamina and the manager's included."""
        self._log = get_logger("landlord.controller")

    async def run(self) -> None:
        """Check, register when needed, wait the interval; until cancelled."""
        self._log.info("controller started", interval_s=self.interval.total_seconds(), **self._ids)
        while True:
            await self.cycle()
            await asyncio.sleep(self.interval.total_seconds())

    async def cycle(self) -> None:
        """One round: refresh the report; register (and refresh again) when it is needed.
        Logs the health when it is bad or has just changed."""
        with structlog.contextvars.bound_contextvars(**self._ids):
            was_healthy = self.report.healthy
            await self._check()
            if self._needs_registration():
                await self._register()
                await self._check()
            report = self.report
            if report.healthy != was_healthy or not report.healthy:
                failing = [check.name for check in report.checks if not check.ok]
                missing = [name for name, ok in report.workflows.items() if not ok]
                log = self._log.info if report.healthy else self._log.warning
                log("health", healthy=report.healthy, failing=failing, unavailable=missing)

    def _needs_registration(self) -> bool:
        """Not yet registered by this process, or Restate answered and lacks the workflow.
        A workflow whose deployment is merely unreachable is left alone: registering cannot
        fix reachability, and Restate retries its invocations once the services are back."""
        return not self._registered or self.report.workflows.get(BUILTIN_WORKFLOW_ID) is False

    async def _check(self) -> None:
        """The provider's report, plus the built-in workflow when Restate answered every check
        and has no stored definition of it (the provider lists only what it has stored), plus
        the last registration's outcome."""
        health = await self.manager.health(provider_type=self.provider.name)
        workflows = dict(health.workflows)
        if all(check.ok for check in health.checks):
            workflows.setdefault(BUILTIN_WORKFLOW_ID, False)
        registration = [self._registration] if self._registration is not None else []
        self.report = ProviderHealth(
            provider_type=health.provider_type,
            checks=[*health.checks, *registration],
            workflows=workflows,
        )

    async def _register(self) -> None:
        """Register through the one registration path, retrying for up to one interval while
        Restate or the services cannot be reached (stamina logs each retry)."""
        try:
            result = await register_tenant_workflow(self.provider, wait=self.interval)
        except ProviderUnavailableError as error:
            self._failed(str(error))
            self._log.warning("registration unavailable, retrying", reason=str(error))
        except InvalidSpecError as error:
            self._failed(str(error))
            self._log.error("registration refused, retrying each interval", reason=str(error))
        except WorkflowError as error:
            self._failed(str(error))
            self._log.error("registration failed, retrying each interval", reason=str(error))
        else:
            self._registered = True
            self._registration = HealthCheck(name="registration", ok=True, detail=result.message)
            self._log.info("registered", resource_ids=result.resource_ids)

    def _failed(self, reason: str) -> None:
        self._registration = HealthCheck(name="registration", ok=False, detail=reason)
