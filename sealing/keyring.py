"""The keyring both sides read: `kid=<base64url of 32 bytes>[,kid=…]`, the first key current.

From `LANDLORD_SECRETS_KEYRING`, or the file named by `LANDLORD_SECRETS_KEYRING_FILE` (a
mounted secret). Rotation is adding a key in front: the old ones still open what they sealed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ._exceptions import KeyringError

__all__ = ["KEYRING_ENV", "KEYRING_FILE_ENV", "KEY_ID_PATTERN", "Keyring"]

KEYRING_ENV = "LANDLORD_SECRETS_KEYRING"
KEYRING_FILE_ENV = "LANDLORD_SECRETS_KEYRING_FILE"
KEY_ID_PATTERN = r"[A-Za-z0-9_.-]{1,64}"
_KEY_ID = re.compile(KEY_ID_PATTERN)
_KEY_BYTES = 32


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    return key


@dataclass(frozen=True)
class Keyring:
    """AES-256 keys by id; `current` seals, every key opens. The repr shows ids only."""

    keys: Mapping[str, bytes] = field(repr=False)
    current: str

    @classmethod
    def parse(cls, text: str, *, source: str = KEYRING_ENV) -> Keyring:
        """A keyring from its notation; `KeyringError` names `source` and the entry's
        position or id, never a key."""
        keys: dict[str, bytes] = {}
        entries = [e.strip() for e in text.replace("\n", ",").split(",") if e.strip()]
        if not entries:
            raise KeyringError(f"{source}: holds no key (kid=<base64url of 32 bytes>)")
        for position, entry in enumerate(entries, start=1):
            kid, sep, encoded = entry.partition("=")
            kid = kid.strip()
            if not sep or not _KEY_ID.fullmatch(kid):
                raise KeyringError(
                    f"{source}: entry {position} must be kid=<base64url of 32 bytes>, "
                    f"the kid matching {KEY_ID_PATTERN}"
                )
            if kid in keys:
                raise KeyringError(f"{source}: key id {kid!r} appears twice")
            key = _decode_key(encoded.strip())
            if len(key) != _KEY_BYTES:
                raise KeyringError(f"{source}: key {kid!r} is not base64url of 32 bytes")
            keys[kid] = key
        return cls(keys=keys, current=next(iter(keys)))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Keyring | None:
        """The keyring the environment names (the variable, else the file), or None."""
        env = os.environ if environ is None else environ
        if env.get(KEYRING_ENV, "").strip():
            return cls.parse(env[KEYRING_ENV], source=KEYRING_ENV)
        path = env.get(KEYRING_FILE_ENV, "").strip()
        if not path:
            return None
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise KeyringError(
                f"{KEYRING_FILE_ENV}: cannot read {path}: {error.strerror or error}"
            ) from None
        return cls.parse(text, source=f"{KEYRING_FILE_ENV} ({path})")

    @staticmethod
    def new_entry(kid: str) -> str:
        """A fresh `kid=<key>` entry to put in front of both keyrings."""
        if not _KEY_ID.fullmatch(kid):
            raise KeyringError(f"key id must match {KEY_ID_PATTERN}")
        key = base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).decode().rstrip("=")
        return f"{kid}={key}"

    def key(self, kid: str) -> bytes | None:
        """The key with this id, or None."""
        return self.keys.get(kid)

    def digest(self, data: bytes, *, kid: str | None = None) -> str:
        """A keyed digest of `data` (`hmac-sha256:<kid>:<hex>`, the current key's unless
        `kid` is given): comparable by whoever holds the key, no guessing ground for others."""
        kid = kid or self.current
        key = self.keys[kid]
        derived = hmac.new(key, b"landlord input digest v1", hashlib.sha256).digest()
        return f"hmac-sha256:{kid}:{hmac.new(derived, data, hashlib.sha256).hexdigest()}"
