"""Settings of the services process (`LANDLORD_SERVICES_*`): request signing keys, where the
`local` backend keeps its records, and logging."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from provider.validation import problems_from

__all__ = ["ENV_PREFIX", "ServicesConfigError", "ServicesSettings", "load_services_settings"]

ENV_PREFIX = "LANDLORD_SERVICES_"


class ServicesConfigError(ValueError):
    """A services setting cannot be used; one line naming the environment variable."""


def _default_state_dir() -> Path:
    return Path(".restate") / "tenants"


class ServicesSettings(BaseSettings):
    """`identity_keys`: comma-separated `publickeyv1_…` keys; when set, only requests signed by
    the Restate server holding the matching private key are served."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    identity_keys: Annotated[list[str], NoDecode] = []
    state_dir: Path = _default_state_dir()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    @field_validator("identity_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("identity_keys")
    @classmethod
    def _key_format(cls, value: list[str]) -> list[str]:
        if any(not key.startswith("publickeyv1_") for key in value):
            raise ValueError("each key must be a publickeyv1_… public key")
        return value


def load_services_settings() -> ServicesSettings:
    """The settings from the environment, or `ServicesConfigError` naming each bad variable."""
    try:
        return ServicesSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"{ENV_PREFIX}{p.field.split('.')[0].upper()}: {p.rule}" for p in problems_from(error)
        )
        raise ServicesConfigError(problems) from None
