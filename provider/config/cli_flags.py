"""Settings from command-line flags written as dotted keys: `--workflow.restate.endpoint=URL`.

`split_config_flags` takes them out of argv before the command parser sees the rest, so every
command accepts them in any position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from .errors import ConfigError
from .fields import unflatten

__all__ = ["CliFlagsSource", "split_config_flags"]


def _is_config_flag(arg: str) -> bool:
    name = arg[2:].split("=", 1)[0]
    return arg.startswith("--") and "." in name and not name.startswith(".")


def split_config_flags(argv: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Separate `--a.b.c=value` / `--a.b.c value` flags from the other arguments.

    Returns ({"a.b.c": value}, remaining args). Dashes in key names read as underscores.
    Arguments after a bare `--` are left alone.
    """
    flags: dict[str, str] = {}
    rest: list[str] = []
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest.extend(args[index:])
            break
        if not _is_config_flag(arg):
            rest.append(arg)
            index += 1
            continue
        name, sep, value = arg[2:].partition("=")
        if not sep:
            if index + 1 >= len(args):
                raise ConfigError.single(name.replace("-", "_"), f"flag --{name} needs a value")
            value = args[index + 1]
            index += 1
        flags[name.replace("-", "_")] = value
        index += 1
    return flags, rest


class CliFlagsSource(PydanticBaseSettingsSource):
    """Settings given as dotted-key flags (already split out of argv)."""

    def __init__(self, settings_cls: type[BaseSettings], flags: dict[str, str] | None) -> None:
        super().__init__(settings_cls)
        self.flags = dict(flags or {})

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return unflatten({tuple(key.split(".")): value for key, value in self.flags.items()})
