"""Registering the tenant workflow: the one path taken by `register`, `serve --register`,
`run`, start-up registration and the benchmarks. It registers the deployment (re-discovering
only when its code changed) and stores the workflow's definition, so that afterwards the
workflow can be started."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import stamina

from services.contract import TENANT_SERVICE, TENANT_WORKFLOW_ID

from .._exceptions import ProviderUnavailableError
from ..config import RestateSettings
from ..models import CreateWorkflowResult, WorkflowSpec

if TYPE_CHECKING:
    from .provider import RestateProvider

__all__ = ["register_tenant_workflow", "tenant_workflow_spec"]

_FIRST_WAIT_SECONDS = 0.5
_LONGEST_WAIT_SECONDS = 5.0


def tenant_workflow_spec(settings: RestateSettings) -> WorkflowSpec:
    """The tenant lifecycle workflow the deployment serves, as the settings name it."""
    return WorkflowSpec(
        workflow_id=TENANT_WORKFLOW_ID,
        provider_type="restate",
        name="Tenant provisioning",
        definition={"service": settings.service_name or TENANT_SERVICE},
        timeout=settings.timeout,
    )


async def register_tenant_workflow(
    provider: RestateProvider,
    *,
    wait: timedelta = timedelta(0),
    on_retry: Callable[[int, ProviderUnavailableError], None] | None = None,
) -> CreateWorkflowResult:
    """Create the tenant workflow, retrying while Restate or the services cannot be reached
    (a recipe starts all of them at once) until `wait` has passed; `on_retry` hears why."""
    retrying = stamina.retry_context(
        on=ProviderUnavailableError,
        attempts=None if wait > timedelta(0) else 1,
        timeout=wait if wait > timedelta(0) else None,
        wait_initial=_FIRST_WAIT_SECONDS,
        wait_max=_LONGEST_WAIT_SECONDS,
        wait_jitter=0.0,
    )
    async for attempt in retrying:
        with attempt:
            try:
                return await provider.create_workflow(tenant_workflow_spec(provider.settings))
            except ProviderUnavailableError as error:
                if on_retry is not None and wait > timedelta(0):
                    on_retry(attempt.num, error)
                raise
    raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover
