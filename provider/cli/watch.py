"""Live progress of one execution until it reaches a terminal state (on stderr, so stdout
keeps only the result)."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..manager import Manager
from ..models import ExecutionStatus

__all__ = ["watch"]

POLL_SECONDS = 0.25


def _describe(status: ExecutionStatus) -> tuple[str, int | None, int | None]:
    progress = status.metadata.get("progress")
    if isinstance(progress, dict):
        phase, step = progress.get("phase"), progress.get("step")
        done, total = progress.get("steps_done"), progress.get("steps_total")
        label = f"{status.state.value}: {phase}" + (f" — {step}" if step else "")
        return (
            label,
            done if isinstance(done, int) else None,
            total if isinstance(total, int) else None,
        )
    return status.state.value, None, None


async def watch(
    manager: Manager, execution_id: str, *, provider_type: str | None, quiet: bool = False
) -> ExecutionStatus:
    """Poll the execution, showing state, phase, current step and steps done / total."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=False,
    ) as bar:
        task = bar.add_task(execution_id, total=None)
        while True:
            status = await manager.get_execution_status(execution_id, provider_type=provider_type)
            label, done, total = _describe(status)
            bar.update(task, description=label, completed=done or 0, total=total)
            if status.state.is_terminal:
                return status
            await asyncio.sleep(POLL_SECONDS)
