"""Request identity keys: the ed25519 key restate-server signs its requests with, and the
`publickeyv1_…` id the services are given to check those signatures."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "KEY_ID_PREFIX",
    "IdentityKeyError",
    "base58",
    "ensure_identity_key",
    "key_id",
    "public_key_id",
]

KEY_ID_PREFIX = "publickeyv1_"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class IdentityKeyError(ValueError):
    """A key file that is not an ed25519 private key in PEM."""


def base58(data: bytes) -> str:
    """Bitcoin-alphabet base58, the encoding Restate uses for key ids."""
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, remainder = divmod(number, 58)
        digits = _BASE58[remainder] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


def key_id(private_key: Ed25519PrivateKey) -> str:
    """The `publickeyv1_…` id of a key: its raw 32-byte public key in base58."""
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return KEY_ID_PREFIX + base58(raw)


def public_key_id(pem: bytes) -> str:
    """The id of the ed25519 private key in `pem` (as restate-server logs it at start-up)."""
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise IdentityKeyError("not a PEM private key without a passphrase") from error
    if not isinstance(private_key, Ed25519PrivateKey):
        raise IdentityKeyError(
            "not an ed25519 key (make one with openssl genpkey -algorithm ed25519)"
        )
    return key_id(private_key)


def ensure_identity_key(path: Path) -> tuple[str, bool]:
    """The id of the key at `path`, making a new one (mode 600) when there is none yet; the
    flag says whether it was made now. An existing key is never replaced."""
    try:
        return public_key_id(path.read_bytes()), False
    except FileNotFoundError:
        pass
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key_id(private_key), True
