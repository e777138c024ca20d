"""Where secrets sit in an execution input, and the walks that seal and mask them.

Secret: every `desired_config.env` value, and any value written `{"$secret": …}`. A reference
`{"$secret_ref": "scheme:name"}` is sent as it is (the services resolve it). `{"$sealed": …}` is
an envelope (sealed already)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import JsonValue

from telemetry.logs import REDACTED

from ._exceptions import MarkerError, NoKeyringError
from .envelope import SEALED, Binding, seal
from .keyring import KEYRING_ENV, KEYRING_FILE_ENV, Keyring

__all__ = [
    "DESCEND",
    "ENV_PATH",
    "SECRET",
    "SECRET_REF",
    "Marker",
    "Path",
    "dotted",
    "is_env_value",
    "key_ids",
    "marker_of",
    "mask_secrets",
    "seal_secrets",
    "tenant_of",
    "transform",
]

SECRET = "$secret"  # noqa: S105 - a marker's name, not a password
SECRET_REF = "$secret_ref"  # noqa: S105
ENV_PATH = ("desired_config", "env")
"""Every value under this path of an input is a secret, marked or not."""
_REFERENCE = re.compile(r"^[a-z][a-z0-9+.-]*:.+$", re.DOTALL)

Marker = Literal["$secret", "$secret_ref", "$sealed"]
Path = tuple[str | int, ...]


def is_env_value(path: Path, *, env: Path = ENV_PATH) -> bool:
    """Whether `path` names one value of the `env` object at `env` (by default, an input's
    `desired_config.env`)."""
    return len(path) == len(env) + 1 and path[:-1] == env


def dotted(path: Path) -> str:
    """`desired_config.env.DB_PASSWORD`, `items[2].token`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def marker_of(value: JsonValue, path: Path = ()) -> Marker | None:
    """Which marker object `value` is, if any; a malformed one raises `MarkerError`."""
    if not isinstance(value, dict):
        return None
    found = [key for key in (SECRET, SECRET_REF, SEALED) if key in value]
    if not found:
        return None
    if len(value) != 1:
        raise MarkerError(field=dotted(path), rule=f"a {found[0]} object holds only that key")
    marker: Marker = found[0]  # type: ignore[assignment]
    reference = value.get(SECRET_REF)
    if marker == SECRET_REF and not (
        isinstance(reference, str) and _REFERENCE.fullmatch(reference)
    ):
        raise MarkerError(field=dotted(path), rule="a $secret_ref is a string scheme:name")
    return marker


DESCEND: object = object()
"""What a `transform` change returns to go on into a part's own parts."""


def transform(
    value: JsonValue, change: Callable[[Path, JsonValue], object], path: Path = ()
) -> JsonValue:
    """`value` with each part replaced by what `change(path, part)` returns; where it returns
    `DESCEND`, the part's own parts are visited instead."""
    result = change(path, value)
    if result is not DESCEND:
        return result  # type: ignore[return-value]
    if isinstance(value, dict):
        return {key: transform(item, change, (*path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [transform(item, change, (*path, index)) for index, item in enumerate(value)]
    return value


def tenant_of(document: JsonValue) -> str:
    """The tenant an input is for (its `tenant_id`; empty when it names none)."""
    tenant = document.get("tenant_id") if isinstance(document, dict) else None
    return tenant if isinstance(tenant, str) else ""


def seal_secrets(document: JsonValue, *, keyring: Keyring | None, execution: str) -> JsonValue:
    """The input as it may leave the control plane: each secret sealed for this tenant,
    execution and field. `NoKeyringError` when it holds one and there is no keyring."""
    tenant = tenant_of(document)

    def sealed(path: Path, value: JsonValue) -> JsonValue:
        if keyring is None:
            raise NoKeyringError(
                f"{dotted(path)} is a secret, and no keyring is set to seal it: set "
                f"{KEYRING_ENV} or {KEYRING_FILE_ENV}"
            )
        return seal(value, keyring=keyring, binding=Binding(tenant, execution, dotted(path)))

    def change(path: Path, value: JsonValue) -> object:
        marker = marker_of(value, path)
        if marker == SECRET:
            return sealed(path, value[SECRET])  # type: ignore[index,call-overload]
        if marker is not None:
            return value
        if is_env_value(path):
            return sealed(path, value)
        return DESCEND

    return transform(document, change)


def mask_secrets(document: JsonValue) -> JsonValue:
    """`document` as a status may show it: every secret (an `env` value, a `$secret`, an
    envelope, a malformed marker) `***`; references are shown, they hold no secret."""

    def change(path: Path, value: JsonValue) -> object:
        try:
            marker = marker_of(value, path)
        except MarkerError:
            return REDACTED
        if marker == SECRET_REF:
            return value
        if marker is not None or is_env_value(path):
            return REDACTED
        return DESCEND

    return transform(document, change)


def key_ids(value: JsonValue) -> set[str]:
    """The key ids of every envelope in `value`."""
    found: set[str] = set()

    def change(path: Path, part: JsonValue) -> object:
        if isinstance(part, dict) and SEALED in part:
            body = part[SEALED]
            if isinstance(body, dict) and isinstance(body.get("kid"), str):
                found.add(str(body["kid"]))
            return part
        return DESCEND

    transform(value, change)
    return found
