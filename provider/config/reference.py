"""The configuration reference, written from the settings models themselves, so the page
in docs/ cannot drift from the code (a test compares them)."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from services.contract import format_duration

from .fields import env_name, leaf_keys

__all__ = ["ReferenceRow", "reference_rows", "render_table"]

ReferenceRow = tuple[str, str, str, str, str]
"""key, environment variable, type, default, description."""


def _field(model: type[BaseModel], path: tuple[str, ...]) -> FieldInfo:
    for name in path[:-1]:
        annotation = model.model_fields[name].annotation
        assert isinstance(annotation, type)
        assert issubclass(annotation, BaseModel)
        model = annotation
    return model.model_fields[path[-1]]


def _kind(annotation: Any) -> str:
    """A reader's name for a type: its choices, or duration / secret / path / list / …."""
    if typing.get_origin(annotation) is typing.Literal:
        return " \\| ".join(str(choice) for choice in typing.get_args(annotation))
    arguments = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(arguments) == 1:
        return _kind(arguments[0])
    if typing.get_origin(annotation) is list:
        return "list"
    names = {
        timedelta: "duration", SecretStr: "secret", Path: "path", bool: "bool", int: "int",
        str: "string",
    }  # fmt: skip
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, SecretStr) or value in ("", [], None):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def reference_rows(
    model: type[BaseModel], *, env: Callable[[tuple[str, ...]], str] = env_name
) -> Iterator[ReferenceRow]:
    """One row per leaf setting of `model`, in declaration order."""
    for path in leaf_keys(model):
        info = _field(model, path)
        yield (
            ".".join(path),
            env(path),
            _kind(info.annotation),
            _default(info),
            (info.description or "").replace("\n", " "),
        )


def render_table(rows: Iterator[ReferenceRow]) -> str:
    """Rows as a Markdown table (backticks around key, variable and default)."""
    lines = ["| key | environment | type | default | what it is |", "|---|---|---|---|---|"]
    for key, variable, kind, default, description in rows:
        shown = f"`{default}`" if default else ""
        lines.append(f"| `{key}` | `{variable}` | {kind} | {shown} | {description} |")
    return "\n".join(lines) + "\n"
