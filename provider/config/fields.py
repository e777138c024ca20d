"""The settings tree seen as leaves: dotted keys, their environment names, flattening."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

__all__ = ["ENV_PREFIX", "env_name", "flatten", "leaf_keys", "unflatten"]

ENV_PREFIX = "LANDLORD_"


def leaf_keys(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every leaf setting's path, in declaration order (`("workflow", "restate", "endpoint")`)."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from leaf_keys(annotation, (*prefix, name))
        else:
            yield (*prefix, name)


def env_name(path: tuple[str, ...]) -> str:
    """The environment variable for a setting: `LANDLORD_WORKFLOW_RESTATE_ENDPOINT`."""
    return ENV_PREFIX + "_".join(path).upper()


def flatten(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Nested mapping → {path: value}; only mappings are descended into."""
    flat: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def unflatten(flat: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """{path: value} → nested dict."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return nested
