"""The durable step runner: each side effect a named, journaled step that races the deadline,
its result journaled with the time the step ended (the run's events take their time from it).

Also the run's other waits on the deadline (the durable sleep, any future raced against it),
and the await that outlasts a stop once the run is ending.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import timedelta
from typing import Any, Generic, TypeVar

import restate
from pydantic import BaseModel
from structlog.typing import FilteringBoundLogger

from ... import metrics
from ...compute import ComputeRejectedError
from ...contract import CANCELLED_CODE, REJECTED_CODE, RetryPolicy
from ...secrets import SecretUnavailableError
from ...tracing import step_span

__all__ = ["DeadlineError", "Stamped", "Steps", "is_cancellation", "observed"]

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")


def is_cancellation(error: BaseException) -> bool:
    """Whether Restate raised this because the invocation was cancelled."""
    return (
        isinstance(error, restate.TerminalError)
        and error.status_code == CANCELLED_CODE
        and error.message == "cancelled"
    )


@contextlib.contextmanager
def observed(name: str) -> Iterator[None]:
    """One attempt at step `name`, traced and timed (call inside the step's body, which runs
    only when the step really runs, never on a replay)."""
    with step_span(name), metrics.timed_step(name):
        yield


class DeadlineError(Exception):
    """The workflow's durable deadline timer fired during `activity`."""

    def __init__(self, activity: str) -> None:
        self.activity = activity
        super().__init__(activity)


class Stamped(BaseModel, Generic[T]):
    """A step's result and when the step ended (epoch seconds), journaled together."""

    value: T
    at: float


def _stamped(
    name: str, action: Callable[..., Awaitable[T]], result: type[T]
) -> Callable[..., Coroutine[Any, Any, Stamped[T]]]:
    """`action` as step `name`, timed, with its end time added to its result; a backend's
    permanent refusal or a secret that cannot open made terminal (no retries), other errors
    left retryable."""
    stamped = Stamped[result]  # type: ignore[valid-type]

    async def guarded(*args: Any) -> Stamped[T]:
        try:
            with observed(name):
                value = await action(*args)
        except (ComputeRejectedError, SecretUnavailableError) as error:
            raise restate.TerminalError(str(error), status_code=REJECTED_CODE) from error
        return stamped(value=value, at=time.time())

    return guarded


class Steps:
    """Runs one workflow run's durable steps, every wait racing the run's one deadline timer."""

    def __init__(
        self,
        ctx: restate.WorkflowContext,
        *,
        timeout: timedelta,
        retry_policy: RetryPolicy,
        log: FilteringBoundLogger,
    ) -> None:
        self.ctx = ctx
        self.log = log
        self.retry_policy = retry_policy
        self.ending = False
        """Set once the run is on its way out: from then on a stop changes nothing."""
        self.deadline = ctx.sleep(timeout, name="deadline")
        self.in_flight: restate.RestateDurableFuture[Any] | None = None
        """The step the deadline or a stop interrupted, until it is settled."""

    async def wait(self, future: restate.RestateDurableFuture[R]) -> R:
        """Await `future`; once ending, absorb stops: the outcome is decided, the unwind runs."""
        # A stop landing now (a repeated one, or the first after a failure) changes nothing.
        while self.ending:
            try:
                await restate.wait_completed(future)
            except restate.TerminalError as error:
                if not is_cancellation(error):
                    raise
                self.log.info("stop ignored: the operation is already ending")
            else:
                break
        return await future

    async def now(self) -> float:
        """The journaled current time (epoch seconds, the same on every replay), for an event
        that no step result dates."""
        return await self.wait(self.ctx.time())

    async def race(self, future: restate.RestateDurableFuture[Any], activity: str) -> None:
        """Wait until `future` completes; raise `DeadlineError` if the deadline comes first."""
        done, _ = await restate.wait_completed(future, self.deadline)
        if future not in done:
            raise DeadlineError(activity)

    async def run(
        self, name: str, action: Callable[..., Awaitable[T]], *args: Any, result: type[T]
    ) -> Stamped[T]:
        """Run `action` as the durable step `name`, racing the deadline; a failure names it."""
        policy = self.retry_policy
        options: restate.RunOptions[Stamped[T]] = restate.RunOptions(
            type_hint=Stamped[result],  # type: ignore[valid-type]
            max_attempts=policy.max_attempts,
            initial_retry_interval=policy.initial_interval,
            retry_interval_factor=policy.backoff_rate,
            max_retry_interval=policy.max_interval,
        )
        future = self.ctx.run_typed(name, _stamped(name, action, result), options, *args)
        self.in_flight = future
        await self.race(future, f"step {name!r}")
        self.in_flight = None
        try:
            value: Stamped[T] = await future
        except restate.TerminalError as error:
            if is_cancellation(error):
                raise
            raise restate.TerminalError(
                f"step {name!r} failed: {error.message}",
                status_code=error.status_code if 400 <= error.status_code < 500 else 500,
                metadata={"step": name, "outcome": "failed"},
            ) from error
        return value

    async def settle_in_flight(self) -> None:
        """Let the step the deadline or a cancel interrupted finish, so its undo never races it."""
        future, self.in_flight = self.in_flight, None
        if future is None:
            return
        with contextlib.suppress(restate.TerminalError):
            await self.wait(future)

    async def sleep(self, delay: timedelta, activity: str) -> None:
        """A durable sleep that gives way to the deadline."""
        done, _ = await restate.wait_completed(self.ctx.sleep(delay), self.deadline)
        if self.deadline in done:
            raise DeadlineError(activity)
