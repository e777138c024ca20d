"""`landlord-restate validate FILE`: check a workflow spec file and list what to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .._exceptions import InvalidSpecError
from ..models import WorkflowSpec
from .files import read_mapping
from .runtime import report_invalid, with_manager
from .state import state_of

__all__ = ["read_spec_file", "validate"]


def read_spec_file(path: Path) -> dict[str, Any]:
    """A workflow spec file's mapping, or one line saying why it cannot be read."""
    return read_mapping(path, holding="workflow spec fields")


def validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Workflow spec, YAML or JSON.")],
) -> None:
    """Validate a workflow spec file: structure, then its provider's own rules."""
    document = read_spec_file(file)
    try:
        parsed = WorkflowSpec.model_validate(document)
    except InvalidSpecError as error:
        raise report_invalid(error, where=str(file)) from None
    spec = with_manager(state_of(ctx), lambda manager: manager.validate(parsed))
    typer.echo(f"{file}: valid workflow spec {spec.workflow_id!r} (provider {spec.provider_type})")
