"""The YAML settings file (`--config`, else `LANDLORD_CONFIG`): pydantic-settings' YAML source
with one-line errors for a missing, unreadable or malformed file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings, YamlConfigSettingsSource

from .errors import ConfigError

__all__ = ["YamlFileSource"]


class YamlFileSource(YamlConfigSettingsSource):
    """Settings from one YAML file; no file means no values from this source."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        self.path = path
        if path is not None and not path.is_file():
            raise ConfigError.single("", f"config file {str(path)!r} does not exist")
        super().__init__(settings_cls, yaml_file=path)

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        where = f"config file {str(self.path)!r}"
        try:
            data = super()._read_file(file_path)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or "cannot be parsed"
            raise ConfigError.single("", f"{where}: invalid YAML{line}: {problem}") from None
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or type(error).__name__
            raise ConfigError.single("", f"{where} cannot be read: {reason}") from None
        if not isinstance(data, dict):
            raise ConfigError.single("", f"{where}: the top level must be a mapping of settings")
        return data
