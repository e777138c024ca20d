"""Polling an execution's status until it shows what a test waits for, within a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from provider import ExecutionStatus, Provider

__all__ = ["DEADLINE_SECONDS", "until"]

DEADLINE_SECONDS = 20.0


async def until(
    provider: Provider,
    execution_id: str,
    condition: Callable[[ExecutionStatus], bool],
    what: str,
) -> ExecutionStatus:
    """Poll the status until `condition` holds; fail after DEADLINE_SECONDS."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        status = await provider.get_execution_status(execution_id)
        if condition(status):
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"{execution_id} not {what} within {DEADLINE_SECONDS}s: {status}")
        await asyncio.sleep(0.05)
