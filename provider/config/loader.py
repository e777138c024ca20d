"""`load_settings`: read every source once, validate, and remember where each value came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from .._exceptions import Problem
from ..validation import problems_from
from .errors import ConfigError
from .fields import env_name, flatten, leaf_keys
from .settings import Settings
from .sources import build_sources, reading

__all__ = ["LoadedSettings", "Origin", "load_settings"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a setting's value came from: `default`, `file`, `env` or `flag`, and which one."""

    kind: Literal["default", "file", "env", "flag"]
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}".strip()


@dataclass(frozen=True)
class LoadedSettings:
    """Validated settings plus the origin of every key that did not come from a default."""

    settings: Settings
    origins: Mapping[str, Origin]

    def origin(self, key: str) -> Origin:
        """Where `key` (dotted) got its value."""
        return self.origins.get(key, Origin("default"))

    def rows(self) -> list[tuple[str, Any, Origin]]:
        """(key, value as JSON with secrets masked, origin) for every setting, in model order."""
        values = flatten(self.settings.model_dump(mode="json"))
        return [
            (".".join(path), values.get(path), self.origin(".".join(path)))
            for path in leaf_keys(Settings)
        ]


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """Load settings: defaults < YAML file < environment < flags.

    Raises `ConfigError` with one line naming each bad key and where its value came from.
    """
    sources = build_sources(
        Settings, config_file=config_file, environ=environ, flags=dict(flags or {})
    )
    flag_source, env_source, file_source = sources
    origins: dict[str, Origin] = {}
    for path in flatten(file_source()):
        origins[".".join(path)] = Origin("file", str(file_source.path))
    for path in env_source.variables():
        origins[".".join(path)] = Origin("env", env_name(path))
    for key in flag_source.flags:
        origins[key] = Origin("flag", f"--{key}")
    try:
        with reading(sources):
            settings = Settings()
    except ValidationError as error:
        problems = []
        for problem in problems_from(error):
            origin = origins.get(problem.field)
            where = f" (from {origin})" if origin else ""
            rule = (
                "is not a known setting" if problem.rule == "is not a known field" else problem.rule
            )
            problems.append(Problem(problem.field, rule + where))
        raise ConfigError(problems) from None
    return LoadedSettings(settings=settings, origins=origins)
