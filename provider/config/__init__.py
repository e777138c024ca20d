"""Configuration: one settings model, read from defaults < YAML file < environment < flags."""

from .cli_flags import split_config_flags
from .errors import ConfigError
from .fields import env_name
from .loader import LoadedSettings, Origin, load_settings
from .settings import (
    AUTH_TYPES,
    EXECUTION_MECHANISMS,
    PROVIDER_TYPES,
    ControllerSettings,
    LogSettings,
    RestateSettings,
    Settings,
    StepFunctionsSettings,
    WorkflowSettings,
)
from .sources import CONFIG_FILE_ENV

__all__ = [
    "AUTH_TYPES",
    "CONFIG_FILE_ENV",
    "EXECUTION_MECHANISMS",
    "PROVIDER_TYPES",
    "ConfigError",
    "ControllerSettings",
    "LoadedSettings",
    "LogSettings",
    "Origin",
    "RestateSettings",
    "Settings",
    "StepFunctionsSettings",
    "WorkflowSettings",
    "env_name",
    "load_settings",
    "split_config_flags",
]
