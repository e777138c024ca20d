"""What the control plane and the deployment agree on, spelled once.

The deployment owns this module; the control plane (`provider/`) imports nothing else from
`services/`. It is pure pydantic and constants (no restate-sdk), so a control plane loads it
without the deployment's dependencies. It holds:

- the names of the services, handlers, state keys and headers both sides use;
- the outcome codes a run ends with, and how Restate writes them (``[409] cancelled …``);
- the limits and patterns of a request, and how a refusal is put in words (field + rule,
  never the value);
- the notation of durations (``30m``, ``1h30m``) used on the wire and in every setting;
- the request, result, live-status and stored-definition models.

It is one file on purpose, over the usual size: the whole agreement is read in one sitting,
and a change to either side shows up here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    JsonValue,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

__all__ = [
    "CANCELLED_CODE",
    "DEADLINE_FIRED_KEY",
    "DEADLINE_HANDLER",
    "DEADLINE_SERVICE",
    "DEFINITIONS_SERVICE",
    "DEFINITION_KEY",
    "INPUT_DIGEST_HEADER",
    "INVALID_REQUEST_CODE",
    "LOCK_HOLDER_KEY",
    "LOCK_LEASE_KEY",
    "LOCK_QUEUE_KEY",
    "LOCK_SERVICE",
    "MACHINE_KEY_SEPARATOR",
    "MAX_INPUT_BYTES",
    "REJECTED_CODE",
    "REQUEST_TOO_LARGE_CODE",
    "RETRY_POLICY_HEADER",
    "STARTED_AT_HEADER",
    "STATE_MACHINE_BRANCH_SERVICE",
    "STATE_MACHINE_HANDLER",
    "STATE_MACHINE_SERVICE",
    "STATUS_HANDLER",
    "STATUS_STATE_KEY",
    "TENANT_ID_PATTERN",
    "TENANT_RUN_HANDLER",
    "TENANT_SERVICE",
    "TENANT_WORKFLOW_ID",
    "TIMED_OUT_CODE",
    "TIMEOUT_HEADER",
    "Deadline",
    "Duration",
    "MachineEvent",
    "MachineExecution",
    "MachineRun",
    "MachineStatus",
    "Operation",
    "PlannedChange",
    "PositiveDuration",
    "Problem",
    "ProvisionRequest",
    "ProvisionResult",
    "RetryPolicy",
    "StatusEvent",
    "StoredDefinition",
    "TenantPhase",
    "TenantStatus",
    "WaitingLine",
    "WaitingOperation",
    "failure_text",
    "format_duration",
    "machine_key",
    "parse_duration",
    "parse_failure",
    "parse_states_failure",
    "problems_from",
    "refusal",
    "split_machine_key",
    "states_failure",
]

# -- names ---------------------------------------------------------------------------------

TENANT_WORKFLOW_ID = "tenant-provisioning"
"""The landlord workflow id of the tenant lifecycle this deployment serves."""
TENANT_SERVICE = "TenantProvisioning"
TENANT_RUN_HANDLER = "run"
STATUS_HANDLER = "status"
"""A workflow with a shared handler of this name reports live progress as a `TenantStatus`."""
STATUS_STATE_KEY = "status"
"""The state key where such a workflow keeps that `TenantStatus` (the handler answers from it;
the control plane reads it through the admin API, which starts no invocation)."""

DEFINITIONS_SERVICE = "WorkflowDefinitions"
"""Stored landlord workflow specs: a private object keyed by workflow id, whose state the
control plane writes through the admin API (it is the operator's trust boundary)."""
DEFINITION_KEY = "definition"
"""The state key holding a `StoredDefinition`."""

DEADLINE_SERVICE = "ExecutionDeadline"
"""The watchdog that keeps an execution's deadline, keyed by the execution's invocation id."""
DEADLINE_HANDLER = "watch"
DEADLINE_FIRED_KEY = "fired"
"""Set (to the timeout, e.g. "30m") when the execution still ran at its deadline and was
cancelled: an execution cancelled with this mark timed out."""

LOCK_SERVICE = "TenantLock"
"""One writer per tenant: a private object keyed by tenant id."""
LOCK_HOLDER_KEY = "holder"
"""The execution name holding the tenant (absent: the tenant is free)."""
LOCK_LEASE_KEY = "lease_until"
"""When the holder's lease ends (epoch seconds)."""
LOCK_QUEUE_KEY = "queue"
"""The `WaitingLine` of operations waiting for the tenant."""

INPUT_DIGEST_HEADER = "x-landlord-input-sha256"
"""Sent with every start: the digest of the input the caller gave, so a retried start is
compared with what was sent."""
STARTED_AT_HEADER = "x-landlord-started-at"
"""Sent with every start: when the control plane started it (ISO 8601, UTC), so that a
retried start answers with the first one's time and a new start reads nothing back."""
TIMEOUT_HEADER = "x-landlord-timeout"
"""Sent with every start: the workflow spec's timeout (a duration). A workflow that keeps its
own deadline ends itself by then; the watchdog cancels it shortly after."""
RETRY_POLICY_HEADER = "x-landlord-retry-policy"
"""Sent when the spec has one: its `RetryPolicy` as JSON, the default for each step's retries."""

# -- outcomes ------------------------------------------------------------------------------

INVALID_REQUEST_CODE = 400
"""The request is not a valid `ProvisionRequest`."""
REQUEST_TOO_LARGE_CODE = 413
TIMED_OUT_CODE = 408
"""The run ended on its deadline (after compensating)."""
CANCELLED_CODE = 409
"""The run was cancelled (after compensating), or killed (Restate's own code for both)."""
REJECTED_CODE = 422
"""The compute backend or its config refused the request (never retried)."""

_FAILURE = re.compile(r"^\[(\d{3})\]\s*(.*)$", re.DOTALL)


def failure_text(code: int, message: str) -> str:
    """A terminal error as Restate records it in `sys_invocation.completion_failure`."""
    return f"[{code}] {message}"


def parse_failure(text: str) -> tuple[int, str]:
    """The code and message of a recorded failure (500 when it carries no code)."""
    match = _FAILURE.match(text)
    return (int(match.group(1)), match.group(2)) if match else (500, text)


# -- limits and refusals -------------------------------------------------------------------

MAX_INPUT_BYTES = 256 * 1024
"""The largest execution input, as compact JSON (Step Functions' limit; the services' too)."""
TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: the dotted field path and what the rule demands."""

    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}" if self.field else self.rule


def refusal(subject: str, problems: list[Problem]) -> str:
    """A refusal in one line: ``invalid provision request: tenant_id: must match …``."""
    return f"invalid {subject}: " + "; ".join(str(p) for p in problems)


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif parts:
            parts.append(f".{item}")
        else:
            parts.append(item)
    return "".join(parts)


def _rule(error: Any) -> str:
    """Say in words what rule the value broke; never echo the value of a secret field."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}.get(kind, "<=")
        limit = next(iter(ctx.values()))
        return f"must be {op} {limit}"
    if kind in {"too_short", "string_too_short"} and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in {"value_error", "assertion_error", "config_rule"}:
        return message
    return message[:1].lower() + message[1:]


def problems_from(error: ValidationError) -> list[Problem]:
    """One `Problem` per pydantic error, named by its dotted field path."""
    return [Problem(_location(e["loc"]), _rule(e)) for e in error.errors()]


# -- durations -----------------------------------------------------------------------------

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


def parse_duration(value: object) -> timedelta:
    """Turn ``1h30m``, a number of seconds, or a timedelta into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 5m or 1h30m")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return timedelta(seconds=float(text))
        if _WHOLE.fullmatch(text):
            total = timedelta()
            for number, unit in _PART.findall(text):
                total += float(number) * _UNITS[unit]
            return total
    raise ValueError("must be a duration such as 30s, 5m or 1h30m")


def format_duration(value: timedelta) -> str:
    """Write a timedelta back in the same notation (``1h30m``, ``500ms``, ``0s``)."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    sign = "-" if total_ms < 0 else ""
    total_ms = abs(total_ms)
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if total_ms:
        parts.append(f"{total_ms}ms")
    return sign + "".join(parts)


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]+)?([mM][sS]|[sSmMhHdD]))+\s*$"},
        {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: 30s, 5m, 1h30m, 500ms, or a number of seconds.",
}

Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""A pydantic field type: accepts ``30m`` / seconds / timedelta, serializes to ``30m`` in JSON."""


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be > 0")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A `Duration` that must be longer than zero (timeouts, retry intervals)."""

# -- models --------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetryPolicy(_Strict):
    """How a failing step or execution is retried: attempts and exponential backoff."""

    max_attempts: int = Field(default=3, ge=1)
    backoff_rate: float = Field(default=2.0, ge=1.0)
    initial_interval: PositiveDuration = timedelta(seconds=1)
    max_interval: Duration = timedelta(minutes=1)

    @model_validator(mode="after")
    def _ordered_intervals(self) -> Self:
        if self.max_interval < self.initial_interval:
            raise ValueError("max_interval must be >= initial_interval")
        return self


class Operation(StrEnum):
    """What the workflow does to the tenant."""

    PLAN = "plan"
    PROVISION = "provision"
    UPDATE = "update"
    DELETE = "delete"


class TenantPhase(StrEnum):
    """Landlord's tenant status machine (requested → planning → provisioning → ready, …)."""

    REQUESTED = "requested"
    PLANNING = "planning"
    PROVISIONING = "provisioning"
    READY = "ready"
    UPDATING = "updating"
    DELETING = "deleting"
    ARCHIVING = "archiving"
    ARCHIVED = "archived"
    FAILED = "failed"


class ProvisionRequest(_Strict):
    """The input a landlord control plane sends for one tenant operation.

    `timeout` is the whole run's deadline and `retry_policy` each step's retries; left out,
    they come from the workflow spec (the start's `TIMEOUT_HEADER` / `RETRY_POLICY_HEADER`).
    """

    subject: ClassVar[str] = "provision request"

    tenant_id: str = Field(pattern=TENANT_ID_PATTERN)
    tenant_uuid: str = Field(default="", max_length=64)
    operation: Operation
    desired_config: dict[str, JsonValue] = Field(default_factory=dict)
    compute_provider: str = "local"
    api_base_url: HttpUrl | None = None
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    timeout: PositiveDuration | None = None
    retry_policy: RetryPolicy | None = None
    health_timeout: PositiveDuration = timedelta(minutes=2)


class PlannedChange(BaseModel):
    """One change the operation would make (or made)."""

    action: Literal["create", "update", "destroy", "keep"]
    resource: str
    detail: dict[str, JsonValue] = Field(default_factory=dict)


class ProvisionResult(BaseModel):
    """The workflow output: what the tenant looks like now (the control plane's observed config)."""

    tenant_id: str
    operation: Operation
    phase: TenantPhase
    observed_config: dict[str, JsonValue] = Field(default_factory=dict)
    resource_ids: dict[str, str] = Field(default_factory=dict)
    endpoints: dict[str, str] = Field(default_factory=dict)
    plan: list[PlannedChange] = Field(default_factory=list)


class StatusEvent(BaseModel):
    """One timestamped transition or step in the workflow's history."""

    at: datetime
    type: str
    phase: TenantPhase
    step: str | None = None
    message: str = ""


class TenantStatus(BaseModel):
    """The live status a workflow's `status` handler returns."""

    tenant_id: str = ""
    operation: Operation | None = None
    phase: TenantPhase = TenantPhase.REQUESTED
    step: str | None = None
    steps_done: int = 0
    steps_total: int = 0
    outcome: Literal["running", "succeeded", "failed", "cancelled", "timed_out"] = "running"
    error: str | None = None
    events: list[StatusEvent] = Field(default_factory=list)


class StoredDefinition(BaseModel):
    """A workflow spec as the control plane stored it, with the revision it was given."""

    spec: dict[str, JsonValue]
    revision: int = 0


class Deadline(BaseModel):
    """Which execution a watchdog keeps, and for how long."""

    invocation_id: str
    timeout: PositiveDuration


class WaitingLine(BaseModel):
    """The operations waiting for a tenant, in arrival order: each one's execution name, the
    awakeable that tells it to look again, and when its own lease would end."""

    waiting: list[WaitingOperation] = Field(default_factory=list)


class WaitingOperation(BaseModel):
    """One operation in a tenant's waiting line."""

    holder: str
    awakeable_id: str
    lease_until: float


WaitingLine.model_rebuild()


# -- state machines (Amazon States Language) ------------------------------------------------

STATE_MACHINE_SERVICE = "StateMachine"
"""The generic workflow that runs an ASL definition; keyed `<workflow id>.<execution name>`."""
STATE_MACHINE_BRANCH_SERVICE = "StateMachineBranch"
"""The private service that runs one `Parallel` branch or `Map` iteration of a machine."""
STATE_MACHINE_HANDLER = "run"
MACHINE_KEY_SEPARATOR = "."
"""Neither a workflow id nor an execution name holds it, and a URL path may."""


def machine_key(workflow_id: str, execution_name: str) -> str:
    """The `StateMachine` key of one execution of an ASL workflow."""
    return f"{workflow_id}{MACHINE_KEY_SEPARATOR}{execution_name}"


def split_machine_key(key: str) -> tuple[str, str]:
    """(workflow id, execution name) of a `StateMachine` key."""
    workflow_id, _, name = key.partition(MACHINE_KEY_SEPARATOR)
    return workflow_id, name


def states_failure(error: str, cause: str) -> str:
    """How a machine that failed with an ASL error says so in its terminal error."""
    return f"{error}: {cause}" if cause else error


def parse_states_failure(message: str) -> tuple[str, str]:
    """(ASL error name, cause) of a machine's terminal error message."""
    error, _, cause = message.partition(": ")
    return error, cause


class MachineExecution(BaseModel):
    """What a machine's context object says of its execution (`$$.Execution…`)."""

    name: str
    start_time: str
    input: JsonValue = None
    state_machine: str = ""


class MachineRun(BaseModel):
    """A state machine run: the definition, bound to this execution when it starts (a later
    revision never changes it), and its input; a branch also carries its execution."""

    definition: dict[str, JsonValue]
    input: JsonValue = None
    execution: MachineExecution | None = None


class MachineEvent(BaseModel):
    """One history event, named as Step Functions names it (`TaskStateEntered`, …)."""

    at: datetime
    type: str
    state: str | None = None
    details: dict[str, JsonValue] = Field(default_factory=dict)


class MachineStatus(BaseModel):
    """A machine's live status: the state it is in, and its history so far."""

    state: str | None = None
    events: list[MachineEvent] = Field(default_factory=list)
