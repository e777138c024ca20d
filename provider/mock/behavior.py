"""How a mock execution behaves: the outcome it reaches and how many status polls it takes."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from .._exceptions import InvalidSpecError, Problem
from ..validation import problems_from

__all__ = ["MockBehavior", "Outcome"]

Outcome = Literal["succeed", "fail", "time_out", "run_forever", "stay_pending"]


class MockBehavior(BaseModel):
    """Scripted behaviour for a mock workflow's executions.

    `after_polls` status polls report `running` before the outcome is reached (0: reached at
    start); a poll is a status read: `get_execution_status`, each id of
    `get_execution_statuses`, or the start of a `wait_for_execution`. `run_forever` stays
    running until stopped or past the workflow timeout; `stay_pending` never starts. `output`
    None means the output echoes the execution's input.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome = "succeed"
    after_polls: int = Field(default=0, ge=0)
    output: JsonValue = None
    error_code: str = "MockFailure"
    error_message: str = "mock execution failed"

    @classmethod
    def succeed(cls, *, output: JsonValue = None, after_polls: int = 0) -> Self:
        """Succeed with `output` (default: the input), after `after_polls` polls."""
        return cls(outcome="succeed", output=output, after_polls=after_polls)

    @classmethod
    def fail(
        cls,
        *,
        code: str = "MockFailure",
        message: str = "mock execution failed",
        after_polls: int = 0,
    ) -> Self:
        """Fail with the given error, after `after_polls` polls."""
        return cls(outcome="fail", error_code=code, error_message=message, after_polls=after_polls)

    @classmethod
    def time_out(cls, *, after_polls: int = 0) -> Self:
        """End as timed out, after `after_polls` polls."""
        return cls(outcome="time_out", after_polls=after_polls)

    @classmethod
    def run_forever(cls) -> Self:
        """Stay running until stopped or until the workflow timeout passes."""
        return cls(outcome="run_forever")

    @classmethod
    def stay_pending(cls) -> Self:
        """Never leave pending (until stopped)."""
        return cls(outcome="stay_pending")

    @classmethod
    def from_provider_config(cls, config: dict[str, JsonValue] | None) -> Self:
        """Read the behaviour a spec's `provider_config` asks for; problems name their field."""
        try:
            return cls.model_validate(config or {})
        except ValidationError as error:
            problems = [Problem(f"provider_config.{p.field}", p.rule) for p in problems_from(error)]
            raise InvalidSpecError(problems) from None
