"""The `landlord-restate` command: the root, its shared options, and its subcommands."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from .._exceptions import WorkflowError
from ..config import CONFIG_FILE_ENV, ConfigError, split_config_flags
from .config_cmd import config_app
from .controller_cmd import controller
from .execution_cmd import execution_app
from .health_cmd import health
from .identity_cmd import identity_key
from .register_cmd import register
from .run_cmd import run
from .secrets_cmd import secrets_app
from .serve_cmd import serve
from .state import CliState
from .tenant_cmd import tenant_app
from .validate_cmd import validate
from .workflow_cmd import workflow_app

__all__ = ["TRACEBACK_ENV", "app", "main"]

TRACEBACK_ENV = "LANDLORD_TRACEBACK"
"""Set to show the traceback of an unexpected error instead of its one line."""

app = typer.Typer(
    name="landlord-restate",
    help="Landlord's tenant lifecycle on Restate: workflows, providers and configuration.",
    epilog=(
        "Any setting can be given as a flag with its dotted key, e.g. "
        "--workflow.restate.endpoint=http://localhost:8080 (flags > LANDLORD_* environment > "
        "config file > defaults)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_app, name="config")
app.add_typer(workflow_app, name="workflow")
app.add_typer(execution_app, name="execution")
app.add_typer(tenant_app, name="tenant")
app.add_typer(secrets_app, name="secrets")
app.command()(validate)
app.command()(health)
app.command()(run)
app.command()(serve)
app.command()(register)
app.command()(controller)
app.command("identity-key")(identity_key)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help=f"YAML settings file (default: ${CONFIG_FILE_ENV}, if set)."
        ),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Write log lines to stderr (at log.level)."),
    ] = False,
) -> None:
    """Landlord's tenant lifecycle on Restate."""
    state = ctx.ensure_object(CliState)
    state.config_file = config
    state.verbose = verbose


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: split out dotted-key setting flags, then run the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        flags, rest = split_config_flags(args)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    try:
        app(args=rest, obj=CliState(flags=flags), prog_name="landlord-restate")
    except WorkflowError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(1) from None
    except ConfigError as error:  # e.g. a secrets keyring read when a provider is built
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None
    except Exception as error:  # a defect: one line, the traceback only when asked for
        if os.environ.get(TRACEBACK_ENV):
            raise
        typer.echo(
            f"error: {type(error).__name__}: {error} (set {TRACEBACK_ENV}=1 for the traceback)",
            err=True,
        )
        raise SystemExit(1) from None
