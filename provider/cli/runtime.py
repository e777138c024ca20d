"""Running provider operations from a command: one manager per command, errors as one line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from .._exceptions import InvalidSpecError, WorkflowError
from ..factory import build_manager
from ..manager import Manager
from .state import CliState

__all__ = ["Output", "echo_fields", "emit", "report_invalid", "with_manager"]

T = TypeVar("T")
Output = Literal["table", "json"]


def report_invalid(error: InvalidSpecError, *, where: str = "error") -> typer.Exit:
    """Print what is invalid, one problem a line, and return the exit (1) to raise."""
    typer.echo(f"{where}: invalid {error.subject}", err=True)
    for problem in error.problems:
        typer.echo(f"  - {problem}", err=True)
    return typer.Exit(1)


def with_manager(state: CliState, operation: Callable[[Manager], Awaitable[T]]) -> T:
    """Run `operation` against a manager built from the settings; a workflow error ends the
    command with one line (exit 1) and the manager is always closed."""

    async def run() -> T:
        manager = build_manager(state.loaded.settings)
        try:
            return await operation(manager)
        finally:
            await manager.aclose()

    try:
        return asyncio.run(run())
    except InvalidSpecError as error:
        raise report_invalid(error) from None
    except WorkflowError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


def emit(value: BaseModel | list[Any], *, output: Output, table: Callable[[], None]) -> None:
    """Print a result: JSON for scripts, else the command's table."""
    if output == "json":
        if isinstance(value, BaseModel):
            typer.echo(value.model_dump_json(indent=2))
        else:
            typer.echo(json.dumps([json.loads(v.model_dump_json()) for v in value], indent=2))
        return
    table()


def echo_fields(fields: Iterable[tuple[str, object]]) -> None:
    """One `label: value` line per field that has a value, the values lined up."""
    for label, value in fields:
        if value is not None:
            typer.echo(f"{label + ':':<11}{value}")


console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
"""Where tables go: the terminal's width, or wide enough not to cut ids when piped."""
