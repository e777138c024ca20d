"""The data that crosses the workflow interface: specs and inputs in, results and statuses out.

Models are immutable pydantic v2 models. Constructing or validating one with bad data raises
`InvalidSpecError` naming each field and rule; pydantic's own error never reaches the caller.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)

from services.contract import PositiveDuration
from services.contract import RetryPolicy as StepRetryPolicy

from .validation import (
    EXECUTION_NAME_PATTERN,
    MAX_INPUT_BYTES,
    PROVIDER_NAME_PATTERN,
    WORKFLOW_ID_PATTERN,
    invalid_spec_from,
)

__all__ = [
    "CreateWorkflowResult",
    "ExecutionError",
    "ExecutionEvent",
    "ExecutionInput",
    "ExecutionResult",
    "ExecutionState",
    "ExecutionStatus",
    "HealthCheck",
    "ProviderHealth",
    "RetryPolicy",
    "ValidatedModel",
    "WorkflowSpec",
    "input_size",
    "utcnow",
]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every timestamp in the interface is)."""
    return datetime.now(UTC)


class ExecutionState(StrEnum):
    """Where an execution is in its life; the last four are terminal."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the execution can no longer change."""
        return self not in (ExecutionState.PENDING, ExecutionState.RUNNING)


_depth: ContextVar[int] = ContextVar("_model_validation_depth", default=0)


@contextmanager
def _user_errors(subject: str) -> Iterator[None]:
    """Turn the outermost validation failure into `InvalidSpecError`; nested ones stay
    pydantic errors so that pydantic can merge them with their field paths."""
    token = _depth.set(_depth.get() + 1)
    try:
        yield
    except ValidationError as error:
        if token.old_value not in (0, Token.MISSING):
            raise
        raise invalid_spec_from(error, subject=subject) from None
    finally:
        _depth.reset(token)


class ValidatedModel(BaseModel):
    """Immutable model whose validation failures surface as `InvalidSpecError` (field + rule);
    subclasses name what they hold in `_subject`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    _subject: ClassVar[str] = "value"

    def __init__(self, /, **data: Any) -> None:
        with _user_errors(self._subject):
            super().__init__(**data)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        with _user_errors(cls._subject):
            return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any
    ) -> Self:
        with _user_errors(cls._subject):
            return super().model_validate_json(json_data, *args, **kwargs)


class RetryPolicy(ValidatedModel, StepRetryPolicy):
    """How a failing step or execution is retried: attempts and exponential backoff (the
    contract's fields and rules; a broken rule raises `InvalidSpecError`)."""

    _subject: ClassVar[str] = "retry policy"


class WorkflowSpec(ValidatedModel):
    """A workflow to create: what the provider runs (definition) and how (timeout, retries).

    `provider_type` None routes to the configured default provider; `timeout` None means the
    provider's default; an empty `name` becomes the workflow id.
    """

    _subject: ClassVar[str] = "workflow spec"

    workflow_id: str = Field(pattern=WORKFLOW_ID_PATTERN)
    provider_type: str | None = Field(default=None, pattern=PROVIDER_NAME_PATTERN)
    name: str = ""
    description: str = ""
    definition: dict[str, JsonValue] = Field(min_length=1)
    timeout: PositiveDuration | None = None
    retry_policy: RetryPolicy | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    provider_config: dict[str, JsonValue] | None = None

    @field_validator("tags")
    @classmethod
    def _tag_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not key or len(key) > 128 for key in value):
            raise ValueError("keys must be 1-128 characters")
        return value

    @model_validator(mode="after")
    def _default_name(self) -> Self:
        if not self.name:
            object.__setattr__(self, "name", self.workflow_id)
        return self


class ExecutionInput(ValidatedModel):
    """A request to run a workflow once; `execution_name` is the idempotency key."""

    _subject: ClassVar[str] = "execution input"

    execution_name: str = Field(pattern=EXECUTION_NAME_PATTERN)
    input: JsonValue = None
    tags: dict[str, str] = Field(default_factory=dict)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    trigger_source: str = "api"

    @field_validator("input")
    @classmethod
    def _not_too_large(cls, value: JsonValue) -> JsonValue:
        size = input_size(value)
        if size > MAX_INPUT_BYTES:
            raise ValueError(f"is {size} bytes as JSON; the limit is {MAX_INPUT_BYTES}")
        return value


def input_size(value: JsonValue) -> int:
    """The size of an input as the compact JSON sent to a workflow."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class CreateWorkflowResult(ValidatedModel):
    """What `create_workflow` made, with the backend's ids for it."""

    workflow_id: str
    provider_type: str
    resource_ids: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    message: str = ""


class ExecutionResult(ValidatedModel):
    """The execution `start_execution` started (or found already started under that name)."""

    execution_id: str
    workflow_id: str
    provider_type: str
    state: ExecutionState
    started_at: datetime
    message: str = ""


class ExecutionError(ValidatedModel):
    """Why an execution did not succeed: a machine-readable code and a message."""

    code: str
    message: str
    cause: str = ""
    failed_at: datetime | None = None


class ExecutionEvent(ValidatedModel):
    """One timestamped event in an execution's history."""

    timestamp: datetime
    type: str
    details: dict[str, JsonValue] = Field(default_factory=dict)


class ExecutionStatus(ValidatedModel):
    """Everything known about one execution at the time it was asked."""

    execution_id: str
    workflow_id: str
    provider_type: str
    state: ExecutionState
    execution_name: str = ""
    """The name it was started under (its idempotency key), as the engine keeps it."""
    start_time: datetime | None = None
    stop_time: datetime | None = None
    input: JsonValue = None
    output: JsonValue = None
    error: ExecutionError | None = None
    history: list[ExecutionEvent] = Field(default_factory=list)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class HealthCheck(ValidatedModel):
    """One thing a provider needs, checked: what it is, whether it is fine, and what was seen."""

    name: str
    ok: bool
    detail: str = ""


class ProviderHealth(ValidatedModel):
    """Whether a provider can run its workflows: each check, and each stored workflow's
    availability; `healthy` when every one is."""

    provider_type: str
    checks: list[HealthCheck] = Field(default_factory=list)
    workflows: dict[str, bool] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def healthy(self) -> bool:
        return all(check.ok for check in self.checks) and all(self.workflows.values())
