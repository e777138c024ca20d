"""Settings from the environment: one `LANDLORD_...` variable per setting, named by its path.

The names are derived from the settings tree, so `LANDLORD_WORKFLOW_DEFAULT_PROVIDER` maps to
`workflow.default_provider` exactly (a plain `_` delimiter would be ambiguous).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from .fields import env_name, leaf_keys, unflatten

__all__ = ["EnvironmentSource"]


class EnvironmentSource(PydanticBaseSettingsSource):
    """Reads `LANDLORD_<SECTION>_<KEY>` variables from `environ` (default: the process's)."""

    def __init__(
        self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ

    def variables(self) -> dict[tuple[str, ...], str]:
        """{setting path: raw value} for every variable that is set."""
        found: dict[tuple[str, ...], str] = {}
        for path in leaf_keys(self.settings_cls):
            value = self.environ.get(env_name(path))
            if value is not None:
                found[path] = value
        return found

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return unflatten(self.variables())
