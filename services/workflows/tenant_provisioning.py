"""`TenantProvisioning`: the tenant lifecycle workflow (landlord workflow id
`tenant-provisioning`). `run` performs one operation; `status` reports live progress."""

from __future__ import annotations

import json
from datetime import timedelta

import restate
from restate.handler import TypeHint
from restate.serde import BytesSerde

from provider import InvalidSpecError

from ..compute import BACKENDS, ComputeConfigError, backend_for
from ..models import MAX_REQUEST_BYTES, ProvisionRequest, ProvisionResult, TenantStatus
from ..settings import services_settings
from .lifecycle import STATUS_KEY, TenantOperation

__all__ = ["parse_request", "run", "status", "tenant_provisioning"]

tenant_provisioning = restate.Workflow(
    "TenantProvisioning",
    description="Plans, provisions, updates and deletes one tenant's compute, as a saga.",
    journal_retention=services_settings().retention,
    # Retries here only cover the services being unreachable or crashing: steps bound their
    # own retries, and handler defects end terminally. Past this the invocation pauses, which
    # the provider reports as needing an operator, rather than looping for days.
    invocation_retry_policy=restate.InvocationRetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        exponentiation_factor=2.0,
        max_interval=timedelta(seconds=30),
        max_attempts=40,
        on_max_attempts="pause",
    ),
)


def parse_request(raw: bytes) -> ProvisionRequest:
    """The request, or a terminal 4xx error that says what is wrong with it (never retried)."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise restate.TerminalError(
            f"request is {len(raw)} bytes; the limit is {MAX_REQUEST_BYTES}", status_code=413
        )
    try:
        document = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise restate.TerminalError(f"request is not JSON: {error}", status_code=400) from None
    if not isinstance(document, dict):
        raise restate.TerminalError("request must be a JSON object", status_code=400)
    try:
        return ProvisionRequest.model_validate(document)
    except InvalidSpecError as error:
        raise restate.TerminalError(str(error), status_code=400) from None


@tenant_provisioning.main(
    input_serde=BytesSerde(), workflow_retention=services_settings().retention
)
async def run(ctx: restate.WorkflowContext, raw: bytes) -> ProvisionResult:
    """Run one tenant operation (plan | provision | update | delete) to its end."""
    request = parse_request(raw)
    if request.compute_provider not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise restate.TerminalError(
            f"compute_provider: unknown backend {request.compute_provider!r} (known: {known})",
            status_code=422,
        )
    backend = backend_for(request.compute_provider)
    try:
        config = backend.validate_config(request.desired_config)
    except ComputeConfigError as error:
        raise restate.TerminalError(str(error), status_code=422) from None
    return await TenantOperation(
        ctx, request, backend=backend, config=config, lock_grace=services_settings().lock_grace
    ).run()


def _publish_input_schema() -> None:
    """`run` parses its own bytes, so that bad input gets a clear 400/413 (the SDK turns a
    typed input's parse error into a 500), yet publishes the real `ProvisionRequest` schema:
    the provider checks input against it before it starts anything."""
    tenant_provisioning.handlers["run"].handler_io.input_type = TypeHint(
        annotation=ProvisionRequest, generate_json_schema=ProvisionRequest.model_json_schema
    )


_publish_input_schema()


@tenant_provisioning.handler()
async def status(ctx: restate.WorkflowSharedContext) -> TenantStatus:
    """Live status: phase, current step, steps done / total, timestamped events."""
    return await ctx.get(STATUS_KEY, type_hint=TenantStatus) or TenantStatus()
