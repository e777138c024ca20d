"""Why a secret could not be sealed or opened. Messages name the setting, the key id or the
field, never a key or a value.

    SealingError
    ├── KeyringError        the keyring setting or file cannot be used
    ├── NoKeyringError      secrets are asked for and no keyring is set
    ├── MarkerError         a `$secret` / `$secret_ref` / `$sealed` object is malformed
    └── OpenError           an envelope does not open here
        ├── UnknownKeyError     its key id is not in this keyring
        └── TamperedError       wrong key, changed ciphertext, or bound to another request
"""

from __future__ import annotations

__all__ = [
    "KeyringError",
    "MarkerError",
    "NoKeyringError",
    "OpenError",
    "SealingError",
    "TamperedError",
    "UnknownKeyError",
]


class SealingError(ValueError):
    """A secret cannot be sealed or opened; the message is one line, safe to show."""


class KeyringError(SealingError):
    """The keyring (its environment variable or file) cannot be used."""


class NoKeyringError(SealingError):
    """A secret needs a keyring and none is set."""


class OpenError(SealingError):
    """An envelope does not open with this keyring for this request."""

    def __init__(self, message: str, *, field: str, key_id: str) -> None:
        self.field = field
        self.key_id = key_id
        super().__init__(message)


class UnknownKeyError(OpenError):
    """The envelope names a key id this keyring does not hold."""


class TamperedError(OpenError):
    """The envelope fails authentication: another key under the same id, a changed
    ciphertext, or an envelope made for another tenant, execution or field."""


class MarkerError(SealingError):
    """A `$secret`, `$secret_ref` or `$sealed` object is not written the way it must be."""

    def __init__(self, *, field: str, rule: str) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")
