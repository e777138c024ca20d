"""Reading what a command is given in a file: YAML or JSON, one line saying why when it cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from .state import fail

__all__ = ["read_document", "read_mapping"]


def read_document(path: Path) -> Any:
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


def read_mapping(path: Path, *, holding: str) -> dict[str, Any]:
    """The file's mapping (`holding` says of what, for the error when it holds none)."""
    document = read_document(path)
    if not isinstance(document, dict):
        raise fail(f"{path}: must hold a mapping of {holding}")
    return document
