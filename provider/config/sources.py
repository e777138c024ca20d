"""The sources one load reads from, in priority order (flags > environment > YAML file)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from .cli_flags import CliFlagsSource
from .environment import EnvironmentSource
from .yaml_file import YamlFileSource

__all__ = ["CONFIG_FILE_ENV", "Sources", "build_sources", "current_sources", "reading"]

CONFIG_FILE_ENV = "LANDLORD_CONFIG"


Sources = tuple[CliFlagsSource, EnvironmentSource, YamlFileSource]
_active: ContextVar[Sources | None] = ContextVar("landlord_config_sources", default=None)


def build_sources(
    settings_cls: type[BaseSettings],
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    flags: dict[str, str] | None = None,
) -> Sources:
    """The sources for one load, highest priority first. The YAML file is `config_file`, else
    the file `LANDLORD_CONFIG` names, else none."""
    env = os.environ if environ is None else environ
    if config_file is None and env.get(CONFIG_FILE_ENV):
        config_file = Path(env[CONFIG_FILE_ENV])
    return (
        CliFlagsSource(settings_cls, flags),
        EnvironmentSource(settings_cls, env),
        YamlFileSource(settings_cls, config_file),
    )


@contextmanager
def reading(sources: Sources) -> Iterator[None]:
    """Make `Settings()` read these sources while the context is open."""
    token = _active.set(sources)
    try:
        yield
    finally:
        _active.reset(token)


def current_sources(settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
    """The sources of the load under way, or the process's own when none is."""
    return _active.get() or build_sources(settings_cls)
