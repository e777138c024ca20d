"""`landlord-restate register`: the one-shot step of every deployment recipe — register the
services with Restate and store the tenant workflow's definition, waiting for both to be up."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from services.contract import format_duration, parse_duration

from .._exceptions import InvalidSpecError, ProviderUnavailableError, WorkflowError
from ..models import CreateWorkflowResult
from ..restate import RestateProvider, register_tenant_workflow
from .runtime import Output, console, emit, report_invalid
from .state import fail, state_of

__all__ = ["register"]


def register(
    ctx: typer.Context,
    wait: Annotated[
        str,
        typer.Option(
            help="Keep retrying this long while Restate or the services are unreachable "
            "(e.g. 120s, 5m; 0 tries once)."
        ),
    ] = "0s",
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json")] = "table",
) -> None:
    """Register the services deployment with Restate and store the tenant workflow."""
    try:
        patience = parse_duration(wait)
    except ValueError as error:
        raise fail(f"--wait: {error}") from None
    settings = state_of(ctx).loaded.settings.workflow.restate

    async def run() -> CreateWorkflowResult:
        provider = RestateProvider(settings)
        try:
            return await register_tenant_workflow(
                provider,
                wait=patience,
                on_retry=lambda n, error: typer.echo(f"waiting (attempt {n}): {error}", err=True),
            )
        finally:
            await provider.aclose()

    try:
        result = asyncio.run(run())
    except InvalidSpecError as error:
        raise report_invalid(error) from None
    except ProviderUnavailableError as error:
        after = f" (gave up after {format_duration(patience)})" if patience else ""
        typer.echo(f"error: {error}{after}", err=True)
        raise typer.Exit(1) from None
    except WorkflowError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None

    def table() -> None:
        grid = Table("resource", "id", box=None)
        for name, value in result.resource_ids.items():
            grid.add_row(name, value)
        console.print(grid)
        console.print(result.message)

    emit(result, output=output, table=table)
