"""`StepFunctionsProvider`: the landlord workflow interface on AWS Step Functions (boto3).

create → the spec's definition is the Amazon States Language document of a state machine
named by the workflow id (created, or updated when its definition or role changed); start →
StartExecution under the (mapped) execution name; status → DescribeExecution + the paged
GetExecutionHistory; stop → StopExecution; delete → DeleteStateMachine; list → ListExecutions.
Wait → DescribeExecution polled with backoff (Step Functions cannot wait on an execution), then
the whole status once. There is no batch status: Step Functions has no call that describes
several executions, so the `Manager` reads them a few at a time.

Sync boto3 in worker threads, not aioboto3: every call goes through `asyncio.to_thread` on one
lazily created boto3 client. boto3 clients are thread-safe (sessions are not, so the client
comes from a private session), the calls are short request/response round trips, and
aioboto3 would add a dependency (and a second AWS stack to keep in step with boto3) for no
gain at the rate a control plane calls. Constructing the provider performs no I/O: the client,
the credential lookup (the standard AWS chain) and, with `assume_role_arn`, the STS
AssumeRole happen on first use; assumed credentials are renewed before they expire.
Credentials are never logged and never appear in a message.

Timeouts: TimeoutSeconds is part of ASL, so a definition without it gets the spec's timeout
(rounded up to whole seconds) when the state machine is created; a definition that sets it
keeps its own. Retries are the definition's own (`Retry` on its states): `retry_policy` is not
rewritten into the document. `provider_config` takes no keys.

Only STANDARD state machines keep the whole contract: Step Functions does not make EXPRESS
starts idempotent by name and keeps no describable history for them.

The interface's operations on one engine in one class, longer than most modules for that
reason; the ASL checks, names and error mapping live beside it.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import JsonValue

from sealing import mask_secrets
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
from ..config.settings import StepFunctionsSettings
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
from ..polling import poll_until
from ..validation import asl_problems, validate_execution_id, validate_workflow_id
from .errors import error_code, translate
from .mapping import STATUS_FILTER, decode_json, error_of, events_of, state_of, utc
from .names import (
    execution_arn_for,
    parse_execution_arn,
    sfn_execution_name,
    state_machine_arn,
    state_machine_name,
)

__all__ = ["MAX_DEFINITION_CHARS", "SESSION_NAME", "StepFunctionsProvider"]

SESSION_NAME = "landlord-step-functions"
MAX_DEFINITION_CHARS = 1_048_576
_RENEW_BEFORE = timedelta(minutes=5)
_PAGE = 1000
_MAX_CAUSE = 32_768
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="landlord",
)


def _canonical(value: JsonValue) -> str:
    """One text per JSON value, to compare an execution's input with a new one."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _document(value: JsonValue) -> str:
    """The JSON text sent as a definition or input (Step Functions' default input is {})."""
    return json.dumps({} if value is None else value, separators=(",", ":"))


class StepFunctionsProvider:
    """The `step-functions` provider. Constructing it never touches the network."""

    name = "step-functions"

    def __init__(
        self,
        settings: StepFunctionsSettings,
        *,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        """Remember the settings; `client_factory` replaces the boto3 client (tests)."""
        self.settings = settings
        self.endpoint = settings.endpoint_url or f"https://states.{settings.region}.amazonaws.com"
        self._client_factory = client_factory
        self._client: Any = None
        self._expires_at: datetime | None = None
        self._client_lock = threading.Lock()
        self._log = get_logger("landlord.workflow.step_functions")

    # -- the boto3 client (blocking; made and used in worker threads) -------------------------

    def _session(self) -> boto3.session.Session:
        """A private session (boto3's default one is not thread-safe); with `assume_role_arn`,
        one holding the assumed role's temporary credentials."""
        settings = self.settings
        session = boto3.session.Session(region_name=settings.region)
        if not settings.assume_role_arn:
            self._expires_at = None
            return session
        sts = session.client(
            "sts", endpoint_url=settings.endpoint_url or None, config=_CLIENT_CONFIG
        )
        try:
            credentials = sts.assume_role(
                RoleArn=settings.assume_role_arn, RoleSessionName=SESSION_NAME
            )["Credentials"]
        except (ClientError, BotoCoreError) as error:
            raise translate(error, endpoint=self.endpoint, operation="sts:AssumeRole") from None
        self._expires_at = utc(credentials["Expiration"])
        return boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=settings.region,
        )

    def _sfn(self) -> Any:
        """The Step Functions client, made on first use and again before assumed credentials
        expire."""
        with self._client_lock:
            stale = self._expires_at is not None and utcnow() >= self._expires_at - _RENEW_BEFORE
            if self._client is None or stale:
                if self._client_factory is not None:
                    self._client = self._client_factory()
                else:
                    self._client = self._session().client(
                        "stepfunctions",
                        endpoint_url=self.settings.endpoint_url or None,
                        config=_CLIENT_CONFIG,
                    )
            return self._client

    def _call_sync(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One blocking client call (boto3 names operations in snake_case)."""
        return cast(dict[str, Any], getattr(self._sfn(), operation)(**params))

    def _pages_sync(
        self, operation: str, params: Mapping[str, Any], key: str, limit: int | None
    ) -> list[dict[str, Any]]:
        """Every item under `key` across pages (`nextToken`), up to `limit`."""
        items: list[dict[str, Any]] = []
        request = dict(params)
        while True:
            page = self._call_sync(operation, request)
            items.extend(page.get(key, []))
            token = page.get("nextToken")
            if not token or (limit is not None and len(items) >= limit):
                return items if limit is None else items[:limit]
            request["nextToken"] = token

    async def _aws(
        self,
        operation: str,
        params: Mapping[str, Any],
        *,
        handle: Collection[str] = (),
        **context: str | None,
    ) -> dict[str, Any]:
        """One Step Functions call in a worker thread; AWS errors become interface errors,
        except the codes in `handle`, which reach the caller as the `ClientError`."""
        try:
            return await asyncio.to_thread(self._call_sync, operation, params)
        except ClientError as error:
            if error_code(error) in handle:
                raise
            raise translate(error, endpoint=self.endpoint, operation=operation, **context) from None
        except BotoCoreError as error:
            raise translate(error, endpoint=self.endpoint, operation=operation, **context) from None

    async def _paged(
        self,
        operation: str,
        params: Mapping[str, Any],
        key: str,
        *,
        limit: int | None = None,
        **context: str | None,
    ) -> list[dict[str, Any]]:
        """A paged listing in one worker thread, errors translated as in `_aws`."""
        try:
            return await asyncio.to_thread(self._pages_sync, operation, params, key, limit)
        except (ClientError, BotoCoreError) as error:
            raise translate(error, endpoint=self.endpoint, operation=operation, **context) from None

    # -- names -------------------------------------------------------------------------------

    def _role(self) -> str:
        """The role state machines run as; without one nothing can be created or found."""
        if not self.settings.role_arn:
            raise ProviderUnavailableError(
                self.endpoint,
                reason="workflow.step_functions.role_arn is not set "
                "(the IAM role the state machines run as)",
            )
        return self.settings.role_arn

    def _machine_arn(self, workflow_id: str) -> str:
        """The ARN of an existing workflow's state machine (an id no state machine can have is
        simply not found)."""
        validate_workflow_id(workflow_id)
        try:
            return state_machine_arn(
                role_arn=self._role(), region=self.settings.region, workflow_id=workflow_id
            )
        except InvalidSpecError:
            raise WorkflowNotFoundError(workflow_id) from None

    def _execution(self, execution_id: str) -> str:
        """The execution ARN an id must be, checked before any call."""
        parsed = parse_execution_arn(validate_execution_id(execution_id))
        if parsed.region != self.settings.region:
            raise ExecutionNotFoundError(execution_id)
        return parsed.arn

    # -- definitions -------------------------------------------------------------------------

    def _definition(self, spec: WorkflowSpec) -> dict[str, JsonValue]:
        """The ASL document to store: the spec's, with TimeoutSeconds from the spec's timeout
        when the document does not set its own."""
        document = dict(spec.definition)
        if "TimeoutSeconds" not in document and spec.timeout is not None:
            document["TimeoutSeconds"] = max(1, math.ceil(spec.timeout.total_seconds()))
        return document

    async def validate(self, spec: WorkflowSpec) -> None:
        """The workflow id fits a state machine name, the definition is sound ASL (every problem
        naming its state), and `provider_config` is empty. No AWS call."""
        problems: list[Problem] = []
        try:
            state_machine_name(spec.workflow_id)
        except InvalidSpecError as error:
            problems.extend(error.problems)
        problems.extend(
            Problem(f"provider_config.{key}", "is not a step-functions provider setting")
            for key in spec.provider_config or {}
        )
        problems.extend(asl_problems(spec.definition, resources=False, jsonata=True))
        if len(_document(self._definition(spec))) > MAX_DEFINITION_CHARS:
            problems.append(
                Problem("definition", f"is longer than Step Functions' {MAX_DEFINITION_CHARS}")
            )
        if problems:
            raise InvalidSpecError(problems)

    def _created(
        self, workflow_id: str, described: Mapping[str, Any], message: str
    ) -> CreateWorkflowResult:
        """The result of a create, from CreateStateMachine's or DescribeStateMachine's answer."""
        return CreateWorkflowResult(
            workflow_id=workflow_id,
            provider_type=self.name,
            resource_ids={"state_machine_arn": str(described["stateMachineArn"])},
            created_at=utc(described.get("creationDate")) or utcnow(),
            message=message,
        )

    async def create_workflow(self, spec: WorkflowSpec) -> CreateWorkflowResult:
        """Create the state machine, or update it when its definition or role changed; the same
        spec again changes nothing (`unchanged`)."""
        await self.validate(spec)
        workflow_id = spec.workflow_id
        role, kind = self._role(), self.settings.state_machine_type
        arn = state_machine_arn(role_arn=role, region=self.settings.region, workflow_id=workflow_id)
        definition = self._definition(spec)
        described = await self._describe_machine(arn, workflow_id)
        if described is None:
            params: dict[str, Any] = {
                "name": state_machine_name(workflow_id),
                "definition": _document(definition),
                "roleArn": role,
                "type": kind,
            }
            if spec.tags:
                params["tags"] = [{"key": k, "value": v} for k, v in spec.tags.items()]
            try:
                created = await self._aws(
                    "create_state_machine",
                    params,
                    handle={"StateMachineAlreadyExists"},
                    workflow_id=workflow_id,
                )
            except ClientError:  # made meanwhile by another caller, differently
                described = await self._describe_machine(arn, workflow_id)
            else:
                self._log.info("state machine created", workflow_id=workflow_id, arn=arn)
                return self._created(workflow_id, created, "created")
        if described is None:
            raise WorkflowNotFoundError(workflow_id)
        if described.get("status") == "DELETING":
            raise ProviderUnavailableError(
                self.endpoint,
                reason=f"state machine {workflow_id!r} is still being deleted; create it later",
            )
        if described.get("type", kind) != kind:
            raise InvalidSpecError.single(
                "workflow.step_functions.state_machine_type",
                f"state machine {workflow_id!r} is {described.get('type')}, and Step Functions "
                f"cannot change it to {kind}: delete the workflow first",
            )
        if decode_json(described.get("definition")) == definition and described["roleArn"] == role:
            return self._created(workflow_id, described, "unchanged")
        await self._aws(
            "update_state_machine",
            {"stateMachineArn": arn, "definition": _document(definition), "roleArn": role},
            workflow_id=workflow_id,
        )
        self._log.info("state machine updated", workflow_id=workflow_id, arn=arn)
        return self._created(workflow_id, described, "updated")

    async def _describe_machine(self, arn: str, workflow_id: str) -> dict[str, Any] | None:
        """DescribeStateMachine, or None when there is no such state machine."""
        try:
            return await self._aws(
                "describe_state_machine",
                {"stateMachineArn": arn},
                handle={"StateMachineDoesNotExist"},
                workflow_id=workflow_id,
            )
        except ClientError:
            return None

    async def delete_workflow(self, workflow_id: str) -> None:
        """Delete the state machine (Step Functions stops its running executions); an unknown
        workflow is not an error."""
        try:
            arn = self._machine_arn(workflow_id)
        except WorkflowNotFoundError:
            return
        try:
            await self._aws(
                "delete_state_machine",
                {"stateMachineArn": arn},
                handle={"StateMachineDoesNotExist"},
                workflow_id=workflow_id,
            )
        except ClientError:
            return
        self._log.info("state machine deleted", workflow_id=workflow_id, arn=arn)

    # -- executions --------------------------------------------------------------------------

    async def start_execution(self, workflow_id: str, input: ExecutionInput) -> ExecutionResult:
        """StartExecution under the mapped name; the same name and input find the execution
        already started (running or finished), a different input conflicts."""
        machine = self._machine_arn(workflow_id)
        name = sfn_execution_name(input.execution_name)
        try:
            started = await self._aws(
                "start_execution",
                {"stateMachineArn": machine, "name": name, "input": _document(input.input)},
                handle={"ExecutionAlreadyExists"},
                workflow_id=workflow_id,
                execution_name=input.execution_name,
            )
        except ClientError:
            return await self._existing(workflow_id, input, execution_arn_for(machine, name))
        return ExecutionResult(
            execution_id=str(started["executionArn"]),
            workflow_id=workflow_id,
            provider_type=self.name,
            state=ExecutionState.RUNNING,
            started_at=utc(started.get("startDate")) or utcnow(),
            message="started",
        )

    async def _existing(self, workflow_id: str, input: ExecutionInput, arn: str) -> ExecutionResult:
        """The execution a name already names, when it was started with this input."""
        described = await self._aws(
            "describe_execution",
            {"executionArn": arn},
            workflow_id=workflow_id,
            execution_id=arn,
        )
        wanted = {} if input.input is None else input.input
        if _canonical(decode_json(described.get("input"))) != _canonical(wanted):
            raise ExecutionConflictError(workflow_id, input.execution_name, execution_id=arn)
        state, _, _ = state_of(str(described.get("status", "")))
        return ExecutionResult(
            execution_id=arn,
            workflow_id=workflow_id,
            provider_type=self.name,
            state=state,
            started_at=utc(described.get("startDate")) or utcnow(),
            message="already started",
        )

    async def _describe(self, arn: str, execution_id: str) -> dict[str, Any]:
        """DescribeExecution of a checked execution ARN."""
        return await self._aws(
            "describe_execution", {"executionArn": arn}, execution_id=execution_id
        )

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        """DescribeExecution and the whole history: state, times, input/output, error, events."""
        arn = self._execution(execution_id)
        described = await self._describe(arn, execution_id)
        history = await self._paged(
            "get_execution_history",
            {"executionArn": arn, "maxResults": _PAGE, "includeExecutionData": True},
            "events",
            execution_id=execution_id,
        )
        status = str(described.get("status", ""))
        state, sub_state, retries = state_of(status, history)
        metadata: dict[str, JsonValue] = {
            "sub_state": sub_state,
            "retry_count": retries,
            "sfn_status": status,
            "sfn_execution_name": str(described.get("name", "")),
            "state_machine_arn": str(described.get("stateMachineArn", "")),
        }
        if described.get("redriveCount"):
            metadata["redrive_count"] = int(described["redriveCount"])
        last_failure = _last_failure(history)
        if last_failure:
            metadata["last_failure"] = last_failure
        return ExecutionStatus(
            execution_id=arn,
            workflow_id=parse_execution_arn(arn).workflow_id,
            provider_type=self.name,
            state=state,
            execution_name=str(described.get("name", "")),
            start_time=utc(described.get("startDate")),
            stop_time=utc(described.get("stopDate")),
            input=mask_secrets(decode_json(described.get("input"))),
            output=mask_secrets(decode_json(described.get("output")))
            if status == "SUCCEEDED"
            else None,
            error=error_of(described),
            history=events_of(history),
            metadata=metadata,
        )

    async def stop_execution(self, execution_id: str, reason: str) -> None:
        """StopExecution with the reason as its cause; a finished execution is left as it is."""
        arn = self._execution(execution_id)
        if _ended(await self._describe(arn, execution_id)):
            return
        await self._aws(
            "stop_execution",
            {"executionArn": arn, "cause": (reason or "stopped")[:_MAX_CAUSE]},
            execution_id=execution_id,
        )
        self._log.info("execution stopped", execution_id=arn)

    async def wait_for_execution(self, execution_id: str, *, timeout: timedelta) -> ExecutionStatus:
        """DescribeExecution with backoff (0.1 s doubling to 2 s, never past `timeout`) until the
        execution ends or the timeout passes, then its whole status."""
        arn = self._execution(execution_id)
        await poll_until(lambda: self._describe(arn, execution_id), done=_ended, timeout=timeout)
        return await self.get_execution_status(execution_id)

    async def list_executions(
        self, workflow_id: str, *, state: ExecutionState | None = None, limit: int = 100
    ) -> list[ExecutionStatus]:
        """ListExecutions (newest first), filtered by state, paged up to `limit` (summaries:
        no input, output or history)."""
        machine = self._machine_arn(workflow_id)
        limit = max(limit, 1)
        params: dict[str, Any] = {"stateMachineArn": machine, "maxResults": min(_PAGE, limit)}
        if state is not None:
            params["statusFilter"] = STATUS_FILTER[state]
        items = await self._paged(
            "list_executions", params, "executions", limit=limit, workflow_id=workflow_id
        )
        statuses = []
        for item in items:
            found, sub_state, _ = state_of(str(item.get("status", "")))
            statuses.append(
                ExecutionStatus(
                    execution_id=str(item["executionArn"]),
                    workflow_id=workflow_id,
                    provider_type=self.name,
                    state=found,
                    execution_name=str(item.get("name", "")),
                    start_time=utc(item.get("startDate")),
                    stop_time=utc(item.get("stopDate")),
                    metadata={
                        "sub_state": sub_state,
                        "sfn_status": str(item.get("status", "")),
                        "sfn_execution_name": str(item.get("name", "")),
                    },
                )
            )
        return statuses

    async def health(self) -> ProviderHealth:
        """Whether Step Functions answers with these credentials (one `ListStateMachines`)."""
        try:
            await self._aws("list_state_machines", {"maxResults": 1})
        except WorkflowError as error:
            check = HealthCheck(name="Step Functions API", ok=False, detail=str(error))
        else:
            check = HealthCheck(name="Step Functions API", ok=True, detail=self.endpoint)
        return ProviderHealth(provider_type=self.name, checks=[check])

    async def aclose(self) -> None:
        """Close the client's connection pool; a later call makes a new client."""
        with self._client_lock:
            client, self._client = self._client, None
        close = getattr(client, "close", None)
        if callable(close):
            await asyncio.to_thread(close)


def _ended(described: Mapping[str, Any]) -> bool:
    """Whether a DescribeExecution answer is of an execution that has ended."""
    state, _, _ = state_of(str(described.get("status", "")))
    return state.is_terminal


def _last_failure(history: list[dict[str, Any]]) -> dict[str, JsonValue] | None:
    """The error and cause of the newest failed attempt in a history, if any."""
    for event in reversed(history):
        for key, value in event.items():
            if key.endswith("FailedEventDetails") and isinstance(value, Mapping):
                return {
                    "type": str(event.get("type", "")),
                    "error": str(value.get("error", "")),
                    "cause": str(value.get("cause", "")),
                    "timestamp": (utc(event.get("timestamp")) or datetime.now(UTC)).isoformat(),
                }
    return None
