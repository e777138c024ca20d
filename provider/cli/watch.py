"""Live progress of one execution until it reaches a terminal state (on stderr, so stdout
keeps only the result)."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..manager import Manager
from ..models import ExecutionStatus

__all__ = ["REFRESH", "watch"]

REFRESH = timedelta(seconds=1)
"""How long one wait lasts before the display shows the execution's progress again."""


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
    """Wait for the execution to end, `REFRESH` at a time, showing its state, phase, current
    step and steps done / total after each wait; return as soon as it has ended."""
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
            status = await manager.wait_for_execution(
                execution_id, timeout=REFRESH, provider_type=provider_type
            )
            label, done, total = _describe(status)
            bar.update(task, description=label, completed=done or 0, total=total)
            if status.state.is_terminal:
                return status
