"""`landlord-restate config show`: the effective configuration and where each value came from."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from .state import state_of

__all__ = ["config_app"]

config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


@config_app.command("show")
def show(
    ctx: typer.Context,
    output: Annotated[
        Literal["table", "json"], typer.Option("--output", "-o", help="table or json")
    ] = "table",
) -> None:
    """Print every setting, its effective value and its source (secrets are masked)."""
    rows = state_of(ctx).loaded.rows()
    if output == "json":
        document = {
            key: {"value": value, "source": origin.kind, "from": origin.detail or None}
            for key, value, origin in rows
        }
        typer.echo(json.dumps(document, indent=2))
        return
    table = Table("setting", "value", "source", box=None, pad_edge=False)
    for key, value, origin in rows:
        table.add_row(key, json.dumps(value) if not isinstance(value, str) else value, str(origin))
    Console(highlight=False, soft_wrap=True).print(table)
