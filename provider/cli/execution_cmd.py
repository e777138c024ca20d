"""`landlord-restate execution start|status|stop|list`: executions in any provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .._exceptions import ExecutionNotFoundError
from ..manager import Manager
from ..models import ExecutionInput, ExecutionState, ExecutionStatus
from .runtime import Output, console, echo_fields, emit, with_manager
from .state import fail, state_of
from .watch import watch
from .workflow_cmd import OutputOption, ProviderOption

__all__ = ["WatchOption", "execution_app", "exit_for", "show_status"]

execution_app = typer.Typer(help="Start, watch, stop and list executions.", no_args_is_help=True)
WatchOption = Annotated[
    bool, typer.Option("--watch", "-w", help="Show live progress until it ends.")
]


def show_status(status: ExecutionStatus, output: Output) -> None:
    """An execution's status: its fields a line each, or JSON."""

    def table() -> None:
        echo_fields(
            [
                ("execution", status.execution_id),
                ("workflow", status.workflow_id),
                ("state", status.state.value),
                ("sub-state", status.metadata.get("sub_state")),
                ("started", status.start_time),
                ("stopped", status.stop_time),
                (
                    "error",
                    f"[{status.error.code}] {status.error.message}" if status.error else None,
                ),
                ("output", json.dumps(status.output) if status.output is not None else None),
            ]
        )

    emit(status, output=output, table=table)


def _summaries(statuses: list[ExecutionStatus]) -> None:
    """One line per execution: id, state, start and stop."""
    grid = Table("execution", "state", "started", "stopped", box=None)
    for item in statuses:
        grid.add_row(
            item.execution_id, item.state.value, str(item.start_time), str(item.stop_time or "")
        )
    console.print(grid)


def exit_for(*states: ExecutionState) -> None:
    """Exit 3 when any of the executions ended in a state but `succeeded`."""
    if any(state.is_terminal and state is not ExecutionState.SUCCEEDED for state in states):
        raise typer.Exit(3)


@execution_app.command("start")
def start(
    ctx: typer.Context,
    workflow_id: Annotated[str, typer.Argument(help="The workflow to run.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Execution name (idempotency key).")],
    input: Annotated[str | None, typer.Option("--input", "-i", help="Input as JSON.")] = None,
    input_file: Annotated[Path | None, typer.Option(help="Input from a JSON file.")] = None,
    provider: ProviderOption = None,
    watch_it: WatchOption = False,
    output: OutputOption = "table",
) -> None:
    """Start an execution (the same name and input again find the same execution)."""
    try:
        text = input_file.read_text() if input_file else input
        payload = json.loads(text) if text else None
    except (OSError, json.JSONDecodeError) as error:
        raise fail(f"--input: not JSON ({error})") from None

    async def go(manager: Manager) -> ExecutionStatus | None:
        started = await manager.start_execution(
            workflow_id, ExecutionInput(execution_name=name, input=payload), provider_type=provider
        )
        typer.echo(f"{started.message}: {started.execution_id}", err=True)
        if not watch_it:
            return await manager.get_execution_status(started.execution_id, provider_type=provider)
        return await watch(
            manager, started.execution_id, provider_type=provider, quiet=output == "json"
        )

    status = with_manager(state_of(ctx), go)
    if status is not None:
        show_status(status, output)
        exit_for(status.state)


@execution_app.command("status")
def status(
    ctx: typer.Context,
    execution_ids: Annotated[
        list[str], typer.Argument(help="The execution id(s) start printed.", metavar="ID...")
    ],
    provider: ProviderOption = None,
    watch_it: WatchOption = False,
    output: OutputOption = "table",
) -> None:
    """Show an execution's state, output or error; several ids, read together, one line each
    (exit 3 when one ended badly, 1 when one is not found)."""
    if len(execution_ids) > 1:
        if watch_it:
            raise fail("--watch follows one execution: give one id")
        _show_many(ctx, execution_ids, provider=provider, output=output)
        return

    async def go(manager: Manager) -> ExecutionStatus:
        if watch_it:
            return await watch(
                manager, execution_ids[0], provider_type=provider, quiet=output == "json"
            )
        return await manager.get_execution_status(execution_ids[0], provider_type=provider)

    result = with_manager(state_of(ctx), go)
    show_status(result, output)
    exit_for(result.state)


def _show_many(
    ctx: typer.Context, execution_ids: list[str], *, provider: str | None, output: Output
) -> None:
    """The statuses of several executions in one call; each unknown id is one error line."""
    found = with_manager(
        state_of(ctx),
        lambda manager: manager.get_execution_statuses(execution_ids, provider_type=provider),
    )
    asked = list(dict.fromkeys(execution_ids))
    statuses = [found[i] for i in asked if i in found]
    emit(statuses, output=output, table=lambda: _summaries(statuses))
    missing = [i for i in asked if i not in found]
    for execution_id in missing:
        typer.echo(f"error: {ExecutionNotFoundError(execution_id)}", err=True)
    if missing:
        raise typer.Exit(1)
    exit_for(*(s.state for s in statuses))


@execution_app.command("stop")
def stop(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution to stop.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the logs).")] = "",
    provider: ProviderOption = None,
) -> None:
    """Stop an execution gracefully (its compensations run); a finished one is left alone."""
    with_manager(
        state_of(ctx),
        lambda manager: manager.stop_execution(execution_id, reason=reason, provider_type=provider),
    )
    typer.echo(f"stop requested for {execution_id}")


@execution_app.command("list")
def list_(
    ctx: typer.Context,
    workflow_id: Annotated[str, typer.Argument(help="The workflow whose executions to list.")],
    state: Annotated[ExecutionState | None, typer.Option(help="Only this state.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    provider: ProviderOption = None,
    output: OutputOption = "table",
) -> None:
    """List a workflow's executions, newest first."""
    found = with_manager(
        state_of(ctx),
        lambda manager: manager.list_executions(
            workflow_id, provider_type=provider, state=state, limit=limit
        ),
    )

    emit(found, output=output, table=lambda: _summaries(found))
