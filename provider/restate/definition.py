"""What a `restate` workflow spec's `definition` says: which service and handler to run, and
which deployment serves them (an HTTP URI, or a Lambda version ARN); or, for a definition
written in Amazon States Language (`StartAt` + `States`), the state machine the deployment's
`StateMachine` workflow runs."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

import asl
from services.contract import STATE_MACHINE_HANDLER, STATE_MACHINE_SERVICE

from .._exceptions import InvalidSpecError, Problem
from ..validation import asl_problems, problems_from
from .names import HANDLER_NAME, SERVICE_NAME

__all__ = ["Deployment", "RestateDefinition"]


class Deployment(BaseModel):
    """Where the handlers run: `uri` (HTTP) or `arn` (+ `assume_role_arn`) for Lambda."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/\S*)?$")
    arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:")
    assume_role_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:")

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.uri is None) == (self.arn is None):
            raise ValueError("give exactly one of uri or arn")
        if self.assume_role_arn and self.arn is None:
            raise ValueError("assume_role_arn only applies to a Lambda arn")
        return self


class RestateDefinition(BaseModel):
    """A workflow spec's definition for the `restate` provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = Field(default=None, pattern=SERVICE_NAME.pattern)
    handler: str = Field(default="run", pattern=HANDLER_NAME.pattern)
    deployment: Deployment | None = None
    pass_policy: bool = True
    """The handler is handed the spec's timeout and retry policy (as start headers) and ends
    itself by that timeout; the watchdog then waits a grace longer before it cancels."""
    machine: dict[str, JsonValue] | None = None
    """The ASL state machine `StateMachine` runs (None: the definition names a handler)."""

    @classmethod
    def parse(cls, definition: dict[str, JsonValue]) -> RestateDefinition:
        """Read a spec's definition; every problem is named as `definition.<field>`."""
        if asl.is_state_machine(definition):
            if found := asl_problems(definition):
                raise InvalidSpecError(found)
            return cls(
                service=STATE_MACHINE_SERVICE,
                handler=STATE_MACHINE_HANDLER,
                pass_policy=False,
                machine=definition,
            )
        try:
            return cls.model_validate(definition)
        except ValidationError as error:
            raise InvalidSpecError(
                [Problem(f"definition.{p.field}".rstrip("."), p.rule) for p in problems_from(error)]
            ) from None
