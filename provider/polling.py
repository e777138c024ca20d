"""Waiting by reading again and again, with backoff: how an execution's end is awaited where the
engine cannot wait itself (Step Functions, and the `Manager`'s fallback for any provider
without `WaitsForExecutions`).

Not stamina: it retries on errors and lets its last wait run past its timeout, while a poll
here is a successful read whose answer says "not yet", and the last read falls at the timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

__all__ = ["FIRST_DELAY", "MAX_DELAY", "poll_until"]

T = TypeVar("T")

FIRST_DELAY = 0.1
MAX_DELAY = 2.0


async def poll_until(
    read: Callable[[], Awaitable[T]],
    *,
    done: Callable[[T], bool],
    timeout: timedelta,
    first_delay: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
) -> T:
    """Call `read` until `done` accepts its answer or `timeout` has passed, and return the last
    answer. The delays between reads start at `first_delay` and double up to `max_delay`; the
    last one is cut short so that the final read falls at the timeout, never past it."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout.total_seconds()
    delay = first_delay
    while True:
        answer = await read()
        remaining = give_up - loop.time()
        if done(answer) or remaining <= 0:
            return answer
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, max_delay)
