"""Settings of the services process (`LANDLORD_SERVICES_*`): request signing keys, where the
`local` backend keeps its records, which backends `/health` checks, and logging."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .contract import PositiveDuration, problems_from

__all__ = [
    "ENV_PREFIX",
    "ServicesConfigError",
    "ServicesSettings",
    "load_services_settings",
    "services_settings",
]

ENV_PREFIX = "LANDLORD_SERVICES_"


class ServicesConfigError(ValueError):
    """A services setting cannot be used; one line naming the environment variable."""


def _default_state_dir() -> Path:
    return Path(".restate") / "tenants"


class ServicesSettings(BaseSettings):
    """`identity_keys`: comma-separated `publickeyv1_…` keys; when set, only requests signed by
    the Restate server holding the matching private key are served. `identity_keys_file` adds
    the keys written in a file (a mounted Secret, or what `landlord-restate identity-key` wrote)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", use_attribute_docstrings=True
    )

    identity_keys: Annotated[list[str], NoDecode] = []
    """Comma-separated `publickeyv1_…` keys; when set, unsigned requests get 401."""
    identity_keys_file: Path | None = None
    """File with more keys (a mounted Secret, or what `identity-key` wrote)."""
    state_dir: Path = _default_state_dir()
    """Where the `local` compute backend keeps its tenant records."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written."""
    log_format: Literal["auto", "json", "console"] = "auto"
    """auto: JSON unless writing to a terminal."""
    retention: PositiveDuration = timedelta(days=30)
    """How long a finished execution stays queryable (status, output, history) and its name
    stays taken; declared on the services in code, so a re-registration keeps it. A finished
    tenant provision costs about 1.3 KiB of Restate's partition store (compressed tables,
    measured by `python -m bench.storage`), so a million retained ones about 1.3 GB."""
    lock_grace: PositiveDuration = timedelta(seconds=60)
    """How long after an operation's deadline its hold on the tenant lasts if it can no longer
    release it (killed, paused); then the next operation gets the tenant."""
    health_backends: Annotated[list[str], NoDecode] = []
    """Comma-separated compute backends (local, docker, ecs, mock) that `GET /health` asks
    whether they can do their work now; empty asks none (the answer is then always healthy)."""

    @field_validator("identity_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("health_backends", mode="before")
    @classmethod
    def _split_backends(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("health_backends")
    @classmethod
    def _known_backends(cls, value: list[str]) -> list[str]:
        from .compute import BACKENDS

        unknown = [name for name in value if name not in BACKENDS]
        if unknown:
            known = ", ".join(sorted(BACKENDS))
            raise ValueError(f"unknown backend {unknown[0]!r} (known: {known})")
        return list(dict.fromkeys(value))

    @field_validator("identity_keys")
    @classmethod
    def _key_format(cls, value: list[str]) -> list[str]:
        _check_keys(value)
        return value

    @field_validator("identity_keys_file")
    @classmethod
    def _key_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            _check_keys(_read_keys(value))
        return value

    @model_validator(mode="after")
    def _merge_file_keys(self) -> Self:
        if self.identity_keys_file is not None:
            extra = [k for k in _read_keys(self.identity_keys_file) if k not in self.identity_keys]
            self.identity_keys = [*self.identity_keys, *extra]
        return self


def _read_keys(path: Path) -> list[str]:
    """The keys in a file: separated by commas, spaces or new lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    keys = text.replace(",", " ").split()
    if not keys:
        raise ValueError(f"{path} holds no key")
    return keys


def _check_keys(keys: list[str]) -> None:
    if any(not key.startswith("publickeyv1_") for key in keys):
        raise ValueError("each key must be a publickeyv1_… public key")


@cache
def services_settings() -> ServicesSettings:
    """This process's settings, read once (what the handlers and backends run with)."""
    return load_services_settings()


def load_services_settings() -> ServicesSettings:
    """The settings from the environment, or `ServicesConfigError` naming each bad variable."""
    try:
        return ServicesSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"{ENV_PREFIX}{p.field.split('.')[0].upper()}: {p.rule}" for p in problems_from(error)
        )
        raise ServicesConfigError(problems) from None
