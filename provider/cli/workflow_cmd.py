"""`landlord-restate workflow create|validate|delete`: workflow definitions in any provider."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..models import CreateWorkflowResult, WorkflowSpec
from .runtime import Output, console, emit, with_manager
from .state import state_of
from .validate_cmd import read_spec_file, validate

__all__ = ["workflow_app"]

workflow_app = typer.Typer(help="Create, validate and delete workflows.", no_args_is_help=True)
workflow_app.command("validate")(validate)

ProviderOption = Annotated[
    str | None, typer.Option("--provider", "-p", help="Provider (default: the configured one).")
]
OutputOption = Annotated[Output, typer.Option("--output", "-o", help="table or json")]


@workflow_app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Workflow spec, YAML or JSON.")],
    provider: ProviderOption = None,
    output: OutputOption = "table",
) -> None:
    """Create (or update) the workflow a spec file describes."""
    document = read_spec_file(file)
    if provider:
        document["provider_type"] = provider
    result: CreateWorkflowResult = with_manager(
        state_of(ctx),
        lambda manager: manager.create_workflow(WorkflowSpec.model_validate(document)),
    )

    def table() -> None:
        grid = Table("workflow", "provider", "resource", "id", box=None)
        for name, value in result.resource_ids.items():
            grid.add_row(result.workflow_id, result.provider_type, name, value)
        console.print(grid)
        console.print(result.message)

    emit(result, output=output, table=table)


@workflow_app.command("delete")
def delete(
    ctx: typer.Context,
    workflow_id: Annotated[str, typer.Argument(help="The workflow to delete.")],
    provider: ProviderOption = None,
) -> None:
    """Delete a workflow (running executions finish; deleting an unknown one succeeds)."""
    with_manager(
        state_of(ctx), lambda manager: manager.delete_workflow(workflow_id, provider_type=provider)
    )
    typer.echo(f"deleted workflow {workflow_id}")
