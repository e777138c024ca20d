"""`landlord-restate validate FILE`: check a workflow spec file and list what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from .._exceptions import InvalidSpecError
from ..models import WorkflowSpec
from .runtime import report_invalid, with_manager
from .state import fail, state_of

__all__ = ["read_spec_file", "validate"]


def _read_spec(path: Path) -> Any:
    """The file's document: JSON for `.json`, YAML (a JSON superset) otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"{path}: cannot be read ({type(error).__name__})") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise fail(f"{path}: invalid JSON at line {error.lineno}: {error.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise fail(f"{path}: invalid YAML{line}: {getattr(error, 'problem', None)}") from None


def read_spec_file(path: Path) -> dict[str, Any]:
    """A workflow spec file's mapping, or one line saying why it cannot be read."""
    document = _read_spec(path)
    if not isinstance(document, dict):
        raise fail(f"{path}: must hold a mapping of workflow spec fields")
    return document


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
