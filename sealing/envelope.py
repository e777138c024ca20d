"""The envelope Restate sees in place of a secret: `{"$sealed": {"v", "kid", "nonce", "data"}}`,
AES-256-GCM over the value's JSON, bound (associated data) to the tenant, the execution and
the field, so an envelope copied anywhere else does not open."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from ._exceptions import TamperedError, UnknownKeyError
from .keyring import KEY_ID_PATTERN, Keyring

__all__ = ["SEALED", "Binding", "Envelope", "open_envelope", "seal"]

SEALED = "$sealed"
"""The one key of an envelope object."""
_VERSION = 1
_NONCE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Binding:
    """Where a secret belongs: the tenant, the execution (its name, the workflow key) and the
    field's dotted path in the input (`desired_config.env.DB_PASSWORD`)."""

    tenant_id: str
    execution: str
    field: str

    def associated_data(self) -> bytes:
        """The bytes AES-GCM authenticates with the ciphertext."""
        parts = ["landlord-secret", _VERSION, self.tenant_id, self.execution, self.field]
        return json.dumps(parts, separators=(",", ":")).encode()


class Envelope(BaseModel):
    """The body of a `$sealed` object: key id, nonce and ciphertext (with its GCM tag)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = Field(ge=_VERSION, le=_VERSION)
    kid: str = Field(pattern=f"^{KEY_ID_PATTERN}$")
    nonce: str
    data: str

    @classmethod
    def of(cls, value: Any, *, field: str = "") -> Envelope | None:
        """The envelope if `value` (at `field`) is a `$sealed` object, else None; a malformed
        one raises `TamperedError` (it can only have been changed on the way)."""
        if not (isinstance(value, dict) and SEALED in value):
            return None
        try:
            if len(value) != 1:
                raise ValueError(value)
            return cls.model_validate(value[SEALED])
        except (ValidationError, ValueError):
            body = value.get(SEALED)
            kid = str(body.get("kid", "")) if isinstance(body, dict) else ""
            raise TamperedError(
                f"{field or 'value'}: is not a well-formed sealed envelope", field=field, key_id=kid
            ) from None

    def as_json(self) -> dict[str, JsonValue]:
        """The `$sealed` object as sent."""
        return {SEALED: self.model_dump()}


def seal(value: JsonValue, *, keyring: Keyring, binding: Binding) -> dict[str, JsonValue]:
    """`value` sealed under the keyring's current key for `binding`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_BYTES)
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    data = AESGCM(keyring.keys[keyring.current]).encrypt(nonce, plain, binding.associated_data())
    return Envelope(v=_VERSION, kid=keyring.current, nonce=_b64(nonce), data=_b64(data)).as_json()


def open_envelope(envelope: Envelope, *, keyring: Keyring, binding: Binding) -> JsonValue:
    """The value sealed in `envelope` for `binding`; `OpenError` names the field and key id."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = keyring.key(envelope.kid)
    where = binding.field
    if key is None:
        raise UnknownKeyError(
            f"{where}: sealed with key id {envelope.kid!r}, which this keyring does not hold",
            field=where,
            key_id=envelope.kid,
        )
    try:
        plain = AESGCM(key).decrypt(
            _unb64(envelope.nonce), _unb64(envelope.data), binding.associated_data()
        )
        value: JsonValue = json.loads(plain)
    except (InvalidTag, binascii.Error, ValueError):
        raise TamperedError(
            f"{where}: the envelope under key id {envelope.kid!r} does not open: another key "
            "under that id, a changed ciphertext, or an envelope made for another request",
            field=where,
            key_id=envelope.kid,
        ) from None
    return value
