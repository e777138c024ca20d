"""The seam between the interpreter and whatever runs it: `Runtime` does what a state machine
cannot do by itself (call a Task's resource, wait, fan out, keep time and history), so that the
same interpreter runs in memory (the mock) and durably (Restate)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .intrinsics import Randomness

__all__ = ["Branch", "Execution", "Runtime"]


@dataclass(frozen=True, slots=True)
class Execution:
    """What the context object says of the execution (`$$.Execution…`, `$$.StateMachine…`)."""

    name: str
    input: Any
    start_time: str
    id: str = ""
    state_machine: str = ""

    def context(self, state: str, entered: str, *, retries: int = 0) -> dict[str, Any]:
        """The context object inside `state`, entered at `entered`."""
        return {
            "Execution": {
                "Id": self.id or self.name,
                "Input": self.input,
                "Name": self.name,
                "StartTime": self.start_time,
            },
            "State": {"EnteredTime": entered, "Name": state, "RetryCount": retries},
            "StateMachine": {"Id": self.state_machine, "Name": self.state_machine},
        }


@dataclass(frozen=True, slots=True)
class Branch:
    """One run a `Parallel` or `Map` state fans out: a nested machine and its input (for a
    `Map` iteration, also the item's index, for history)."""

    machine: dict[str, Any]
    input: Any
    index: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Runtime(Protocol):
    """What an interpreter needs from the engine that runs it."""

    randomness: Randomness
    """Where `States.UUID`, `States.MathRandom` and retry jitter draw from."""

    def now(self) -> datetime:
        """The time as the engine keeps it (the same on every replay)."""
        ...

    def record(self, event: str, state: str | None, **details: Any) -> None:
        """Add a history event (named as Step Functions names it)."""
        ...

    async def task(
        self, state: str, resource: str, parameters: Any, *, context: Any, timeout: float | None
    ) -> Any:
        """Call a Task's resource (as the definition writes it) with its parameters; its
        result, or a `StatesError`. `context`: the state's context object (a `restate:` key
        may be a path into it)."""
        ...

    async def sleep(self, state: str, seconds: float) -> None:
        """Wait `seconds` (a Wait state, or a retry's backoff)."""
        ...

    async def sleep_until(self, state: str, timestamp: datetime) -> None:
        """Wait until `timestamp` (a Wait state's `Timestamp`)."""
        ...

    async def fan_out(
        self, state: str, execution: Execution, branches: Sequence[Branch], *, limit: int
    ) -> list[Any]:
        """Run each branch (at most `limit` at once; 0: all) and give their outputs in order;
        the first branch (in order) that failed raises its `StatesError`."""
        ...
