"""Saga bookkeeping: compensations registered before their step runs, undone in reverse."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Compensation", "Saga"]


@dataclass(frozen=True)
class Compensation:
    """How to undo one step: a named, idempotent coroutine function (Restate runs it as a
    durable step, so it must be a real `async def`, or a partial of one)."""

    step: str
    undo: Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Saga:
    """The compensations of the steps started so far, newest last.

    Rebuilt identically on every replay (registration is plain code, not a side effect)."""

    compensations: list[Compensation] = field(default_factory=list)

    def register(self, step: str, undo: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Register `undo` for `step`; call before the step runs."""
        self.compensations.append(Compensation(step, undo))

    def unwind(self) -> list[Compensation]:
        """The compensations to run, newest first; the saga is empty afterwards."""
        pending, self.compensations = list(reversed(self.compensations)), []
        return pending
