"""`TenantProvisioning`: the tenant lifecycle workflow (landlord workflow id
`tenant-provisioning`). `run` performs one operation; `status` reports live progress.

A request that leaves out its timeout or retry policy gets the workflow spec's, which the
control plane sends with every start as headers (`TIMEOUT_HEADER`, `RETRY_POLICY_HEADER`);
a request's own timeout can only shorten the spec's."""

from __future__ import annotations

import json
from datetime import timedelta

import restate
from pydantic import ValidationError
from restate.handler import TypeHint
from restate.serde import BytesSerde

from sealing import MarkerError

from ..compute import BACKENDS, ComputeConfigError, backend_for
from ..contract import (
    INVALID_REQUEST_CODE,
    MAX_INPUT_BYTES,
    REJECTED_CODE,
    REQUEST_TOO_LARGE_CODE,
    RETRY_POLICY_HEADER,
    STATUS_HANDLER,
    TENANT_RUN_HANDLER,
    TENANT_SERVICE,
    TENANT_WORKFLOW_ID,
    TIMEOUT_HEADER,
    ProvisionRequest,
    ProvisionResult,
    RetryPolicy,
    TenantStatus,
    parse_duration,
    problems_from,
    refusal,
)
from ..secrets import RunSecrets
from ..settings import services_settings
from ..tracing import run_span
from .retries import INVOCATION_RETRIES
from .tenant import STATUS_KEY, TenantOperation

__all__ = [
    "DEFAULT_TIMEOUT",
    "parse_request",
    "run",
    "spec_policy",
    "status",
    "tenant_provisioning",
]

DEFAULT_TIMEOUT = timedelta(minutes=30)
"""A run's deadline when neither the request nor the workflow spec sets one."""

tenant_provisioning = restate.Workflow(
    TENANT_SERVICE,
    description="Plans, provisions, updates and deletes one tenant's compute, as a saga.",
    journal_retention=services_settings().retention,
    invocation_retry_policy=INVOCATION_RETRIES,
)


def parse_request(raw: bytes) -> ProvisionRequest:
    """The request, or a terminal 4xx error that says what is wrong with it (never retried)."""
    if len(raw) > MAX_INPUT_BYTES:
        raise restate.TerminalError(
            f"request is {len(raw)} bytes; the limit is {MAX_INPUT_BYTES}",
            status_code=REQUEST_TOO_LARGE_CODE,
        )
    try:
        document = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise restate.TerminalError(
            f"request is not JSON: {error}", status_code=INVALID_REQUEST_CODE
        ) from None
    if not isinstance(document, dict):
        raise restate.TerminalError(
            "request must be a JSON object", status_code=INVALID_REQUEST_CODE
        )
    try:
        return ProvisionRequest.model_validate(document)
    except ValidationError as error:
        raise restate.TerminalError(
            refusal(ProvisionRequest.subject, problems_from(error)),
            status_code=INVALID_REQUEST_CODE,
        ) from None


def spec_policy(
    request: ProvisionRequest, headers: dict[str, str]
) -> tuple[timedelta, RetryPolicy]:
    """The run's deadline and step retry policy: the request's, else the spec's from the start
    headers, else the defaults. A request cannot outlive the spec's timeout."""
    try:
        spec_timeout = (
            parse_duration(headers[TIMEOUT_HEADER]) if TIMEOUT_HEADER in headers else None
        )
        spec_retry = (
            RetryPolicy.model_validate_json(headers[RETRY_POLICY_HEADER])
            if RETRY_POLICY_HEADER in headers
            else None
        )
    except (ValueError, ValidationError):
        raise restate.TerminalError(
            "the workflow spec's timeout or retry policy sent with the start is not valid",
            status_code=INVALID_REQUEST_CODE,
        ) from None
    timeouts = [t for t in (request.timeout, spec_timeout) if t is not None]
    timeout = min(timeouts) if timeouts else DEFAULT_TIMEOUT
    return timeout, request.retry_policy or spec_retry or RetryPolicy()


@tenant_provisioning.main(
    name=TENANT_RUN_HANDLER,
    input_serde=BytesSerde(),
    workflow_retention=services_settings().retention,
)
async def run(ctx: restate.WorkflowContext, raw: bytes) -> ProvisionResult:
    """Run one tenant operation (plan | provision | update | delete) to its end, traced."""
    with run_span(
        "tenant.run", ctx, workflow_id=TENANT_WORKFLOW_ID, execution_name=ctx.key()
    ) as span:
        request = parse_request(raw)
        span.set_attributes({"tenant_id": request.tenant_id, "operation": request.operation.value})
        return await _run(ctx, request)


async def _run(ctx: restate.WorkflowContext, request: ProvisionRequest) -> ProvisionResult:
    """The operation `request` asks for, once its policy, backend, config and secrets check out."""
    timeout, retry_policy = spec_policy(request, ctx.request().headers)
    if request.compute_provider not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise restate.TerminalError(
            f"compute_provider: unknown backend {request.compute_provider!r} (known: {known})",
            status_code=REJECTED_CODE,
        )
    try:
        secrets = RunSecrets(
            tenant_id=request.tenant_id, execution=ctx.key(), desired=request.desired_config
        )
    except MarkerError as error:  # a malformed $secret / $secret_ref / $sealed object
        field = f"desired_config.{error.field}" if error.field else "desired_config"
        raise restate.TerminalError(
            f"{field}: {error.rule}", status_code=INVALID_REQUEST_CODE
        ) from None
    try:
        backend = backend_for(request.compute_provider)
        # The backend checks the config's shape with each secret a placeholder (a secret is
        # opened only inside the step that hands it to compute).
        shape = backend.validate_config(secrets.shape(request.desired_config))
        config = secrets.restore(shape, request.desired_config)
    except ComputeConfigError as error:
        raise restate.TerminalError(str(error), status_code=REJECTED_CODE) from None
    return await TenantOperation(
        ctx,
        request,
        backend=backend,
        config=config,
        secrets=secrets,
        timeout=timeout,
        retry_policy=retry_policy,
        lock_grace=services_settings().lock_grace,
    ).run()


def _publish_input_schema() -> None:
    """`run` parses its own bytes, so that bad input gets a clear 400/413 (the SDK turns a
    typed input's parse error into a 500), yet publishes the real `ProvisionRequest` schema:
    the provider checks input against it before it starts anything."""
    tenant_provisioning.handlers[TENANT_RUN_HANDLER].handler_io.input_type = TypeHint(
        annotation=ProvisionRequest, generate_json_schema=ProvisionRequest.model_json_schema
    )


_publish_input_schema()


@tenant_provisioning.handler(name=STATUS_HANDLER)
async def status(ctx: restate.WorkflowSharedContext) -> TenantStatus:
    """Live status: phase, current step, steps done / total, timestamped events."""
    return await ctx.get(STATUS_KEY, type_hint=TenantStatus) or TenantStatus()
