"""`RestateProvider`: the landlord workflow interface over Restate's admin API and ingress.

create → register the deployment (re-discovering only when its code changed) and store the
spec in the `WorkflowDefinitions` object; start → `send` to the workflow keyed by the
execution name (an ASL definition: to `StateMachine`, keyed `<workflow id>.<name>`, the
definition bound to the execution), and its deadline delayed by its timeout; status (one,
many, or waited for with attach) → `statuses` (finished ones remembered, the rest batched
SQL); stop → graceful cancel; delete → drop the spec and close the service to new runs.

Longer than most modules on purpose: it is the interface's operations, each composed of the
pieces beside it (`definition_store`, `deployments`, `invocations`, `statuses`, `progress`,
`tenant_locks`, `registration`), and reads top to bottom like the table in the README.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
from pydantic import JsonValue

from sealing import Keyring, KeyringError
from services.contract import (
    DEADLINE_HANDLER,
    DEADLINE_SERVICE,
    INPUT_DIGEST_HEADER,
    RETRY_POLICY_HEADER,
    STARTED_AT_HEADER,
    TENANT_WORKFLOW_ID,
    TIMEOUT_HEADER,
    MachineRun,
    format_duration,
    machine_key,
)
from telemetry.logs import get_logger

from .._exceptions import (
    ExecutionConflictError,
    ExecutionNotFoundError,
    InvalidSpecError,
    Problem,
    ProviderUnavailableError,
    WorkflowError,
    WorkflowNotFoundError,
)
from ..config import ConfigError, RestateSettings
from ..models import (
    CreateWorkflowResult,
    ExecutionInput,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    HealthCheck,
    ProviderHealth,
    WorkflowSpec,
    utcnow,
)
from ..validation import MAX_INPUT_BYTES, validate_tenant_id, validate_workflow_id
from .admin import AdminApi
from .coalescing import Coalesced
from .definition import RestateDefinition
from .definition_store import DefinitionStore
from .deployments import discover, register_deployment
from .health import deployment_checks, server_checks, service_availability
from .http import RestateHttp
from .ingress import IngressApi
from .input_schema import InputSchema
from .input_secrets import InputSecrets
from .invocations import Invocations
from .key_ids import key_ids_in_flight
from .mapping import parse_time, started_at, state_of
from .memory import Bounded
from .names import check_invocation_id, is_invocation_id, service_name_for
from .progress import LiveProgress
from .registration import register_tenant_workflow
from .statuses import Statuses
from .tenant_locks import unlock_tenant

__all__ = ["BUILTIN_WORKFLOW_ID", "RestateProvider"]

BUILTIN_WORKFLOW_ID = TENANT_WORKFLOW_ID
_ENDED_SHOWS_WITHIN = 0.05
"""Seconds to give an execution that attach saw end to show as ended in SQL reads."""


def _kebab(service: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in service).lstrip("-")


class RestateProvider:
    """The `restate` provider. Constructing it never touches the network.

    `keyring` seals the secrets of every input; left out, it is read from the environment
    (`LANDLORD_SECRETS_KEYRING`, else the file `LANDLORD_SECRETS_KEYRING_FILE`)."""

    name = "restate"

    def __init__(
        self,
        settings: RestateSettings,
        *,
        keyring: Keyring | None = None,
        ingress_transport: httpx.AsyncBaseTransport | None = None,
        admin_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        try:
            self.secrets = InputSecrets(keyring or Keyring.from_environment())
        except KeyringError as error:
            raise ConfigError.single("", str(error)) from None
        api_key = settings.effective_api_key if settings.auth_type == "api_key" else None

        def client(url: str, transport: httpx.AsyncBaseTransport | None) -> RestateHttp:
            return RestateHttp(
                url, api_key=api_key, retry_attempts=settings.retry_attempts, transport=transport
            )

        self.ingress = IngressApi(client(settings.endpoint, ingress_transport))
        self.admin = AdminApi(client(settings.admin_endpoint, admin_transport))
        self.definitions = DefinitionStore(self.admin)
        self.invocations = Invocations(self.admin)
        self.progress = LiveProgress(self.admin)
        self.statuses = Statuses(
            self.invocations,
            self.progress,
            self.ingress,
            workflows_of=self._workflows_of,
            provider_type=self.name,
            capacity=settings.status_cache_size,
        )
        self._workflow_of_service: dict[str, str] = {}
        self._input_schemas: dict[tuple[str, str], InputSchema] = {}
        self._specs: Bounded[str, tuple[float, WorkflowSpec]] = Bounded(1024)
        self._spec_reads: Coalesced[str, WorkflowSpec] = Coalesced(self._read_specs)
        self._owner_reads: Coalesced[str, str] = Coalesced(self._read_owners)
        self._schema_reads: Coalesced[tuple[str, str], InputSchema] = Coalesced(
            self._read_input_schemas
        )
        self._log = get_logger("landlord.workflow.restate")

    # -- definitions -----------------------------------------------------------------------

    def _service(self, spec: WorkflowSpec, definition: RestateDefinition) -> str:
        return definition.service or service_name_for(
            spec.workflow_id, override=self.settings.service_name
        )

    def _service_of(self, spec: WorkflowSpec) -> str:
        """The Restate service a stored spec runs on."""
        return self._service(spec, RestateDefinition.parse(spec.definition))

    def _registers(self, definition: RestateDefinition) -> bool:
        """Whether creating a workflow registers its deployment (a definition naming one
        always does; else `register_deployment`)."""
        return definition.deployment is not None or self.settings.register_deployment

    def _target(self, definition: RestateDefinition) -> dict[str, Any]:
        """The deployment to register: the definition's, else the configured mechanism's."""
        if definition.deployment is not None:
            return definition.deployment.model_dump(exclude_none=True)
        if self.settings.execution_mechanism == "lambda":
            target = {"arn": self.settings.lambda_arn}
            if self.settings.auth_type == "iam" and self.settings.assume_role_arn:
                target["assume_role_arn"] = self.settings.assume_role_arn
            return target
        return {"uri": self.settings.deployment_uri}

    async def _stored_spec(self, workflow_id: str) -> WorkflowSpec | None:
        """The stored spec, reused for `definition_cache` after a read (this provider's own
        create and delete refresh it at once; another process's show within that time).
        Starts that find it expired together share one read."""
        remembered = self._specs.get(workflow_id)
        if remembered is not None and time.monotonic() < remembered[0]:
            return remembered[1]
        return (await self._spec_reads.get([workflow_id])).get(workflow_id)

    async def _read_specs(self, workflow_ids: list[str]) -> dict[str, WorkflowSpec]:
        """The stored spec of each of these workflows that has one, remembered."""
        found = {}
        for workflow_id in workflow_ids:
            spec = await self.definitions.spec(workflow_id)
            if spec is None:
                self._specs.pop(workflow_id)
                continue
            until = time.monotonic() + self.settings.definition_cache.total_seconds()
            self._specs.put(workflow_id, (until, spec))
            found[workflow_id] = spec
        return found

    async def _spec_of(self, workflow_id: str) -> tuple[WorkflowSpec, RestateDefinition, str]:
        spec = await self._stored_spec(validate_workflow_id(workflow_id))
        if spec is None:
            raise WorkflowNotFoundError(workflow_id)
        definition = RestateDefinition.parse(spec.definition)
        service = self._service(spec, definition)
        self._workflow_of_service[service] = workflow_id
        return spec, definition, service

    # -- create / validate / delete ----------------------------------------------------------

    async def validate(self, spec: WorkflowSpec) -> None:
        """Definition and provider_config rules; with the server reachable, that the service
        exists (or the deployment would create it), is a Workflow, and has the handler."""
        definition = RestateDefinition.parse(spec.definition)
        service = self._service(spec, definition)
        if spec.provider_config:
            raise InvalidSpecError(
                [
                    Problem(f"provider_config.{key}", "is not a restate provider setting")
                    for key in spec.provider_config
                ]
            )
        candidates: dict[str, dict[str, Any]] = {}
        if self._registers(definition):
            with contextlib.suppress(ProviderUnavailableError):  # judge what is registered
                candidates = {
                    s["name"]: s for s in await discover(self.admin, self._target(definition))
                }
        try:
            found = candidates.get(service) or await self.admin.service(service)
        except ProviderUnavailableError as error:
            self._log.info("server checks skipped", workflow_id=spec.workflow_id, reason=str(error))
            return
        problems = []
        if found is None:
            problems.append(Problem("definition.service", f"no service {service!r} is registered"))
        elif found.get("ty") != "Workflow":
            problems.append(
                Problem("definition.service", f"{service!r} is a {found.get('ty')}, not a Workflow")
            )
        elif definition.handler not in {h["name"] for h in found.get("handlers", [])}:
            problems.append(
                Problem("definition.handler", f"{service!r} has no handler {definition.handler!r}")
            )
        if problems:
            raise InvalidSpecError(problems)

    async def create_workflow(self, spec: WorkflowSpec) -> CreateWorkflowResult:
        """Register the deployment, check the service, store the spec; idempotent."""
        definition = RestateDefinition.parse(spec.definition)
        service = self._service(spec, definition)
        owner = (await self._owners()).get(service, spec.workflow_id)
        if owner != spec.workflow_id and definition.machine is None:  # machines share one
            raise InvalidSpecError.single(
                "definition.service", f"{service!r} already runs workflow {owner!r}"
            )
        if self._registers(definition):
            deployment = await register_deployment(self.admin, self._target(definition))
        await self.validate(spec)
        found = await self.admin.service(service)
        assert found is not None
        if not self._registers(definition):
            deployment = {"id": found.get("deployment_id"), "created_at": None}
        if not found.get("public", True):
            await self.admin.set_public(service, True)
        record = await self.definitions.store(spec)
        self._specs.pop(spec.workflow_id)
        self._workflow_of_service[service] = spec.workflow_id
        self.progress.forget(service)
        self._input_schemas.pop((service, definition.handler), None)
        return CreateWorkflowResult(
            workflow_id=spec.workflow_id,
            provider_type=self.name,
            resource_ids={
                "deployment_id": str(deployment.get("id")),
                "service": service,
                "service_revision": str(found.get("revision")),
                "definition_revision": str(record.revision),
            },
            created_at=parse_time(deployment.get("created_at")) or utcnow(),
            message=f"definition revision {record.revision}",
        )

    async def _owners(self) -> dict[str, str]:
        """Which stored workflow each Restate service belongs to (one workflow per service)."""
        owners = {
            self._service_of(spec): spec.workflow_id for spec in await self.definitions.specs()
        }
        self._workflow_of_service.update(owners)
        return owners

    async def _read_owners(self, _services: list[str]) -> dict[str, str]:
        """`_owners`, for lookups asked for together (they share one read of the specs)."""
        return await self._owners()

    async def delete_workflow(self, workflow_id: str) -> None:
        """Drop the stored spec and stop new executions of its service (in-flight ones run on).
        The deployment stays registered: it also serves the definitions and other workflows."""
        spec = await self.definitions.spec(validate_workflow_id(workflow_id))
        if spec is None:
            return
        service = self._service_of(spec)
        await self.definitions.drop(workflow_id)
        self._specs.pop(workflow_id)
        if service not in await self._owners():
            await self.admin.set_public(service, False)

    # -- executions ----------------------------------------------------------------------

    def _policy_headers(self, spec: WorkflowSpec, definition: RestateDefinition) -> dict[str, str]:
        """The spec's timeout and retry policy, for a handler that takes them."""
        if not definition.pass_policy:
            return {}
        headers = {TIMEOUT_HEADER: format_duration(spec.timeout or self.settings.timeout)}
        if spec.retry_policy is not None:
            headers[RETRY_POLICY_HEADER] = spec.retry_policy.model_dump_json()
        return headers

    async def _input_schema(self, service: str, handler: str) -> InputSchema:
        """The handler's published input schema (remembered; `create_workflow` refreshes it)."""
        known = self._input_schemas.get((service, handler))
        if known is not None:
            return known
        return (await self._schema_reads.get([(service, handler)]))[(service, handler)]

    async def _read_input_schemas(
        self, asked: list[tuple[str, str]]
    ) -> dict[tuple[str, str], InputSchema]:
        """The published input schema of each (service, handler), remembered; a service that
        is not registered takes anything (the send says so), and is looked up again later."""
        schemas: dict[tuple[str, str], InputSchema] = {}
        for service in dict.fromkeys(service for service, _ in asked):
            found = await self.admin.service(service)
            keys = [key for key in asked if key[0] == service]
            if found is None:
                schemas.update((key, InputSchema(True)) for key in keys)
                continue
            published = {h["name"]: h.get("input_json_schema") for h in found.get("handlers", [])}
            for key in keys:
                schemas[key] = self._input_schemas[key] = InputSchema(published.get(key[1]))
        return schemas

    async def _checked_body(
        self, definition: RestateDefinition, service: str, document: JsonValue
    ) -> bytes:
        """The body to send, refused (`InvalidSpecError`) before anything is sent when the
        input is over the size limit or breaks the handler's published input schema. For a
        state machine the body is the `MachineRun`: the definition and the input."""
        body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        if len(body) > MAX_INPUT_BYTES:
            raise InvalidSpecError.single(
                "input",
                f"is {len(body)} bytes as sent; the limit is {MAX_INPUT_BYTES}",
                subject="execution input",
            )
        if definition.machine is not None:
            return (
                MachineRun(definition=definition.machine, input=document).model_dump_json().encode()
            )
        (await self._input_schema(service, definition.handler)).check(json.loads(body))
        return body

    async def start_execution(self, workflow_id: str, input: ExecutionInput) -> ExecutionResult:
        """Start the workflow keyed by the execution name; the same name and input give the
        same execution, a different input is a conflict. Input the handler would refuse is
        refused here, before anything is started; its secrets are sealed before it is sent.
        The start time travels with it (`STARTED_AT_HEADER`): a new execution is answered
        without reading anything back."""
        sealed = self.secrets.seal(input.input, execution=input.execution_name)
        spec, definition, service = await self._spec_of(workflow_id)
        body = await self._checked_body(definition, service, sealed)
        digest = self.secrets.digest(input.input, sealed)
        key = input.execution_name
        if definition.machine is not None:
            key = machine_key(workflow_id, key)
        started = utcnow()
        try:
            sent = await self.ingress.send(
                workflow_id,
                service,
                key,
                definition.handler,
                body,
                headers={
                    INPUT_DIGEST_HEADER: digest,
                    STARTED_AT_HEADER: started.isoformat(),
                    **self._policy_headers(spec, definition),
                },
            )
        except WorkflowNotFoundError:  # deleted by another process since the spec was read
            self._specs.pop(workflow_id)
            raise
        state = ExecutionState.PENDING
        if sent.previously_accepted:
            journal = await self.invocations.journal(sent.invocation_id)
            original, headers = journal.payload, journal.headers
            same = (
                self.secrets.same(input.input, headers[INPUT_DIGEST_HEADER])
                if INPUT_DIGEST_HEADER in headers  # else started by hand through the ingress
                else original is None or original == input.input
            )
            if not same:
                raise ExecutionConflictError(
                    workflow_id, input.execution_name, execution_id=sent.invocation_id
                )
            row = await self.invocations.row(sent.invocation_id, wait=True) or {}
            state = state_of(row)[0] if row else state  # as it is now; started when first sent
            started = started_at(headers, row) or started
        else:
            self.statuses.sent(sent.invocation_id)
        await self._arm_deadline(sent.invocation_id, self._deadline(spec, definition))
        return ExecutionResult(
            execution_id=sent.invocation_id,
            workflow_id=workflow_id,
            provider_type=self.name,
            state=state,
            started_at=started,
            message="already started" if sent.previously_accepted else "started",
        )

    def _deadline(self, spec: WorkflowSpec, definition: RestateDefinition) -> timedelta:
        """When Restate is to cancel the execution: the spec's timeout; for a handler that was
        handed the timeout (and so should end itself first), a grace later. A state machine's
        own `TimeoutSeconds` can only shorten it."""
        timeout = spec.timeout or self.settings.timeout
        if definition.machine is not None and "TimeoutSeconds" in definition.machine:
            own = timedelta(seconds=float(definition.machine["TimeoutSeconds"]))  # type: ignore[arg-type]
            timeout = min(timeout, own)
        return timeout + self.settings.deadline_grace if definition.pass_policy else timeout

    async def _arm_deadline(self, invocation_id: str, after: timedelta) -> None:
        """Schedule the execution's `ExecutionDeadline` to run `after` from now (keyed by the
        execution's id: a retried start finds the one already scheduled)."""
        body = {"invocation_id": invocation_id, "timeout": format_duration(after)}
        try:
            await self.ingress.send(
                DEADLINE_SERVICE,
                DEADLINE_SERVICE,
                invocation_id,
                DEADLINE_HANDLER,
                json.dumps(body).encode(),
                delay=format_duration(after),
            )
        except WorkflowNotFoundError:
            raise ProviderUnavailableError(
                self.settings.endpoint,
                reason=f"{DEADLINE_SERVICE} is not registered (register the landlord services)",
            ) from None

    def _workflow_for(self, service: str) -> str:
        return self._workflow_of_service.get(service) or _kebab(service)

    async def _workflows_of(self, services: set[str]) -> dict[str, str]:
        """The workflow id of each service; stored specs are read again when one is not known
        (another process may have created its workflow)."""
        if unknown := services - self._workflow_of_service.keys():
            await self._owner_reads.get(unknown)
        return {service: self._workflow_for(service) for service in services}

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """State, times, input, output or error, history and live progress of one execution."""
        found = await self.statuses.of_ids([check_invocation_id(execution_id)])
        if execution_id not in found:
            raise ExecutionNotFoundError(execution_id)
        return found[execution_id]

    async def get_execution_statuses(
        self, execution_ids: Sequence[str]
    ) -> dict[str, ExecutionStatus]:
        """The status of each known id, as `get_execution_status` gives it, in a few queries
        whatever the count (unknown ids are left out)."""
        return await self.statuses.of_ids([i for i in execution_ids if is_invocation_id(i)])

    async def wait_for_execution(self, execution_id: str, *, timeout: timedelta) -> ExecutionStatus:
        """The status once the execution has ended (Restate's attach answers then, at once for
        one that has), or as it is when `timeout` passes first."""
        until = time.monotonic() + timeout.total_seconds()
        while not self.statuses.finished(check_invocation_id(execution_id)):
            ended = await self.ingress.attach(
                execution_id, seconds=max(until - time.monotonic(), 0.001)
            )
            status = await self.get_execution_status(execution_id)
            if status.state.is_terminal or time.monotonic() >= until:
                return status
            if ended:  # attach answered before SQL shows the end
                await asyncio.sleep(min(_ENDED_SHOWS_WITHIN, max(until - time.monotonic(), 0)))
        return await self.get_execution_status(execution_id)

    async def stop_execution(self, execution_id: str, reason: str) -> None:
        """Cancel gracefully (compensations run); a finished execution is left as it is."""
        ended = self.statuses.finished(check_invocation_id(execution_id))
        outcome = "completed" if ended else await self.admin.cancel(execution_id)
        self._log.info("stop", execution_id=execution_id, outcome=outcome, reason=reason)

    async def list_executions(
        self, workflow_id: str, *, state: ExecutionState | None = None, limit: int = 100
    ) -> list[ExecutionStatus]:
        """The workflow's executions, newest first: one query for the rows, then what the
        batch status reads for them (finished ones come from memory)."""
        _, definition, service = await self._spec_of(workflow_id)
        rows = await self.invocations.of_handler(
            service,
            definition.handler,
            state=state,
            limit=limit,
            key_prefix=machine_key(workflow_id, "") if definition.machine is not None else None,
        )
        return await self.statuses.of_rows(rows)

    # -- tenants -------------------------------------------------------------------------

    async def unlock_tenant(self, tenant_id: str) -> str | None:
        """Free a tenant at once (see `unlock_tenant`); the execution name removed, or None."""
        holder = await unlock_tenant(self.admin, self.ingress, validate_tenant_id(tenant_id))
        if holder is not None:
            self._log.info("tenant unlocked", tenant_id=tenant_id, execution_id=holder)
        return holder

    async def key_ids_in_flight(self) -> dict[str, set[str]]:
        """The secrets key ids the executions in flight hold envelopes under, each with those
        executions' ids (see `key_ids_in_flight`): what a rotation must keep."""
        return await key_ids_in_flight(self.admin)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """With `register_on_startup`, register the built-in workflow; a failure is logged
        (endpoint and reason) and does not stop the caller."""
        if not self.settings.register_on_startup:
            return
        try:
            await register_tenant_workflow(self)
        except WorkflowError as error:
            self._log.error(
                "startup registration failed",
                endpoint=self.settings.admin_endpoint,
                workflow_id=BUILTIN_WORKFLOW_ID,
                reason=str(error),
            )
        else:
            self._log.info("registered", workflow_id=BUILTIN_WORKFLOW_ID)

    async def health(self) -> ProviderHealth:
        """The server (admin API, ingress, version), each deployment the stored workflows
        register (can Restate reach it?), and each stored workflow's service (registered and
        public?). Nothing changes; a check that fails says why in one line."""
        checks = await server_checks(self.admin, self.ingress.http)
        if not checks[0].ok:
            return ProviderHealth(provider_type=self.name, checks=checks)
        try:
            specs = await self.definitions.specs()
        except WorkflowError as error:
            checks.append(HealthCheck(name="stored workflows", ok=False, detail=str(error)))
            return ProviderHealth(provider_type=self.name, checks=checks)
        served, targets = {}, {}
        for spec in specs:
            definition = RestateDefinition.parse(spec.definition)
            served[spec.workflow_id] = self._service(spec, definition)
            if self._registers(definition):
                target = self._target(definition)
                targets[json.dumps(target, sort_keys=True)] = target
        checks += await deployment_checks(self.admin, targets.values())
        try:
            available = await service_availability(self.admin, served.values())
        except WorkflowError as error:
            checks.append(HealthCheck(name="services", ok=False, detail=str(error)))
            return ProviderHealth(provider_type=self.name, checks=checks)
        return ProviderHealth(
            provider_type=self.name,
            checks=checks,
            workflows={
                workflow_id: available[served[workflow_id]] for workflow_id in sorted(served)
            },
        )

    async def aclose(self) -> None:
        """Close both pooled clients."""
        await self.ingress.http.aclose()
        await self.admin.http.aclose()
