"""A run's secrets: opened only inside the step that hands them to compute, and masked (or,
where a compensation needs them back, sealed again) in whatever comes back before it is
journaled.

The request's config holds envelopes (`$sealed`, made by the control plane) and references
(`$secret_ref`); every `env` value is a secret whether marked or not. Outside a step the run
only ever sees those markers, a placeholder (to validate the config's shape) or `***`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TypeVar, cast

from pydantic import JsonValue

from sealing import (
    DESCEND,
    KEYRING_ENV,
    KEYRING_FILE_ENV,
    SECRET,
    SECRET_REF,
    Binding,
    Envelope,
    Keyring,
    NoKeyringError,
    Path,
    SealingError,
    dotted,
    is_env_value,
    marker_of,
    open_envelope,
    seal,
    transform,
)
from telemetry.logs import REDACTED

from ..compute import ComputeRejectedError, ComputeState
from ..metrics import SECRET_OPEN_FAILURES
from .references import UnresolvableReferenceError, resolve_reference

__all__ = [
    "PLACEHOLDER",
    "RunSecrets",
    "SecretUnavailableError",
    "secret_paths",
    "services_keyring",
]

T = TypeVar("T")

PLACEHOLDER = "\x00secret\x00"
"""What a secret is replaced by while a backend validates the config's shape."""
_MIN_SCRUBBED = 4
"""Shorter secret values are not searched for in error messages (they would mangle them)."""


class SecretUnavailableError(Exception):
    """A secret of the run cannot be opened here, for good: one line naming the field and the
    key id or reference, never a value. The step fails terminally, before any compute call."""


@cache
def services_keyring() -> Keyring | None:
    """This process's keyring (`LANDLORD_SECRETS_KEYRING[_FILE]`), read once; None if unset."""
    return Keyring.from_environment()


def _names_the_keyring(reference: str) -> bool:
    """Whether `reference` points at the services' own keyring, which never leaves them."""
    scheme, _, name = reference.partition(":")
    if scheme == "env":
        return name in (KEYRING_ENV, KEYRING_FILE_ENV)
    keyring_file = os.environ.get(KEYRING_FILE_ENV, "").strip()
    return (
        scheme == "file"
        and bool(keyring_file)
        and os.path.realpath(name) == os.path.realpath(keyring_file)
    )


def secret_paths(config: JsonValue) -> list[Path]:
    """Where the secrets of `config` sit: each marker, and every `env` value."""
    found: list[Path] = []

    def change(path: Path, value: JsonValue) -> object:
        if marker_of(value, path) is not None or is_env_value(path, env=("env",)):
            found.append(path)
            return value
        return DESCEND

    transform(config, change)
    return found


def _get(value: JsonValue, path: Path) -> tuple[bool, JsonValue]:
    for part in path:
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            value = value[part]
            continue
        if isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
            continue
        return False, None
    return True, value


def _replaced(
    config: dict[str, JsonValue], paths: list[Path], by: Callable[[Path, JsonValue], JsonValue]
) -> dict[str, JsonValue]:
    """`config` with the value at each of `paths` replaced by `by(path, value)`."""
    wanted = set(paths)

    def change(path: Path, value: JsonValue) -> object:
        return by(path, value) if path in wanted else DESCEND

    return cast(dict[str, JsonValue], transform(config, change))


class RunSecrets:
    """The secrets of one run: its tenant and execution (the envelopes' binding), and where
    the request's config holds them."""

    def __init__(
        self,
        *,
        tenant_id: str,
        execution: str,
        desired: dict[str, JsonValue],
        keyring: Callable[[], Keyring | None] = services_keyring,
    ) -> None:
        self.tenant_id = tenant_id
        self.execution = execution
        self.paths = secret_paths(desired)
        self._keyring = keyring

    @property
    def any(self) -> bool:
        """Whether the request holds any secret at all."""
        return bool(self.paths)

    def _paths_in(self, config: dict[str, JsonValue]) -> list[Path]:
        """Where `config` holds a secret: where the request's config does (a backend reports
        back the same fields), and every value of its own `env`, once each."""
        return list(dict.fromkeys([*self.paths, *secret_paths({"env": config.get("env")})]))

    def _binding(self, root: str, path: Path) -> Binding:
        return Binding(self.tenant_id, self.execution, dotted((root, *path)))

    def shape(self, config: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """`config` with each secret a placeholder string, for a backend to validate."""
        return _replaced(config, self.paths, lambda _path, _value: PLACEHOLDER)

    def restore(
        self, normalized: dict[str, JsonValue], original: dict[str, JsonValue]
    ) -> dict[str, JsonValue]:
        """A backend's normalized `shape` with the original markers put back."""

        def back(path: Path, value: JsonValue) -> JsonValue:
            present, marker = _get(original, path)
            return marker if present and value == PLACEHOLDER else value

        return _replaced(normalized, self.paths, back)

    def masked(self, config: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """`config` as it may be shown (plan, result, status): every secret `***`."""
        return _replaced(config, self._paths_in(config), lambda _path, _value: REDACTED)

    async def reveal(
        self, config: dict[str, JsonValue], *, root: str = "desired_config"
    ) -> dict[str, JsonValue]:
        """`config` with every secret opened (call inside a step only). A secret that cannot
        be opened raises `SecretUnavailableError`, before anything is handed to compute."""
        opened: dict[Path, JsonValue] = {}
        for path in self._paths_in(config):
            present, value = _get(config, path)
            if present:
                opened[path] = await self._open(root, path, value)
        return _replaced(config, list(opened), lambda path, _value: opened[path])

    async def _open(self, root: str, path: Path, value: JsonValue) -> JsonValue:
        try:
            return await self._opening(root, path, value)
        except SecretUnavailableError:
            SECRET_OPEN_FAILURES.inc()
            raise

    async def _opening(self, root: str, path: Path, value: JsonValue) -> JsonValue:
        field = dotted((root, *path))
        try:
            marker = marker_of(value, path)
            if marker == SECRET_REF:
                reference = str(cast(dict[str, JsonValue], value)[SECRET_REF])
                if _names_the_keyring(reference):
                    raise SecretUnavailableError(
                        f"{field}: secret reference {reference!r} names the services' secrets "
                        "keyring, which is never handed to compute"
                    )
                try:
                    return await resolve_reference(reference)
                except UnresolvableReferenceError as error:
                    raise SecretUnavailableError(f"{field}: {error}") from None
            if marker == SECRET:
                raise SecretUnavailableError(
                    f"{field}: a $secret reached the services unsealed; the "
                    "control plane seals it (send the input through the provider)"
                )
            envelope = Envelope.of(value, field=field)
            if envelope is None:  # an env value sent in clear (not through the provider)
                return value
            keyring = self._keyring()
            if keyring is None:
                raise NoKeyringError(
                    f"{field}: sealed with key id {envelope.kid!r}, and the "
                    "services have no keyring (LANDLORD_SECRETS_KEYRING)"
                )
            return open_envelope(envelope, keyring=keyring, binding=self._binding(root, path))
        except SealingError as error:
            raise SecretUnavailableError(str(error)) from None

    def conceal(
        self, state: ComputeState, *, reopenable: bool = False, root: str = "observed_config"
    ) -> ComputeState:
        """`state` as it may be journaled: each secret of its config `***`; with `reopenable`,
        sealed for this run instead, so that a compensation can put it back (`***` still when
        the services hold no keyring)."""
        keyring = self._keyring() if reopenable else None

        def hidden(path: Path, value: JsonValue) -> JsonValue:
            if keyring is None:
                return REDACTED
            return seal(value, keyring=keyring, binding=self._binding(root, path))

        present = [p for p in self._paths_in(state.config) if _get(state.config, p)[0]]
        config = _replaced(state.config, present, hidden)
        return state.model_copy(update={"config": config})

    async def opened(
        self,
        config: dict[str, JsonValue],
        action: Callable[[dict[str, JsonValue]], Awaitable[T]],
        *,
        root: str = "desired_config",
    ) -> T:
        """`action` (a backend call) on `config` with its secrets open; an error it raises
        has every opened value masked in its message."""
        plain = await self.reveal(config, root=root)
        try:
            return await action(plain)
        except Exception as error:
            scrubbed = self._scrub(str(error), plain)
            if scrubbed == str(error):
                raise
            if isinstance(error, ComputeRejectedError):
                raise ComputeRejectedError(scrubbed) from None
            raise RuntimeError(scrubbed) from None

    def _scrub(self, message: str, plain: dict[str, JsonValue]) -> str:
        """`message` with each secret value of `plain` replaced by `***`."""
        for path in self._paths_in(plain):
            present, value = _get(plain, path)
            if not present:
                continue
            text = value if isinstance(value, str) else json.dumps(value)
            if len(text) >= _MIN_SCRUBBED:
                message = message.replace(text, REDACTED)
        return message
