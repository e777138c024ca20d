"""An execution input's secrets, sealed before the input leaves the control plane, and the
digest a retried start is compared by (keyed when the input holds secrets, so the digest of a
password is no ground for guessing it)."""

from __future__ import annotations

import hashlib
import json

from pydantic import JsonValue

from sealing import Keyring, MarkerError, NoKeyringError, seal_secrets

from .._exceptions import InvalidSpecError

__all__ = ["InputSecrets"]

_KEYED = "hmac-sha256:"


def _canonical(value: JsonValue) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class InputSecrets:
    """Seals inputs under `keyring` (None: an input holding secrets is refused)."""

    def __init__(self, keyring: Keyring | None) -> None:
        self.keyring = keyring

    def seal(self, document: JsonValue, *, execution: str) -> JsonValue:
        """The input as it is sent: every secret an envelope bound to its tenant, `execution`
        and field. `InvalidSpecError` (nothing sent) for a malformed marker, or for a secret
        with no keyring to seal it."""
        try:
            return seal_secrets(document, keyring=self.keyring, execution=execution)
        except MarkerError as error:
            raise InvalidSpecError.single(
                f"input.{error.field}" if error.field else "input",
                error.rule,
                subject="execution input",
            ) from None
        except NoKeyringError as error:
            raise InvalidSpecError.single("input", str(error), subject="execution input") from None

    def digest(self, document: JsonValue, sent: JsonValue) -> str:
        """The digest of the input as the caller gave it (key order does not matter): keyed
        by the current key when sealing changed it, else plain SHA-256."""
        data = _canonical(document)
        if sent != document and self.keyring is not None:
            return self.keyring.digest(data)
        return hashlib.sha256(data).hexdigest()

    def same(self, document: JsonValue, recorded: str) -> bool:
        """Whether `document` is the input whose digest was `recorded` (a keyed digest under
        a key this keyring no longer holds cannot be told: not the same)."""
        data = _canonical(document)
        if not recorded.startswith(_KEYED):
            return recorded == hashlib.sha256(data).hexdigest()
        kid = recorded.removeprefix(_KEYED).partition(":")[0]
        if self.keyring is None or self.keyring.key(kid) is None:
            return False
        return recorded == self.keyring.digest(data, kid=kid)
