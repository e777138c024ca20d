"""The provider's side of secrets: an input is sealed before anything is sent, refused (with
nothing sent) when it cannot be, and digested with a key when it holds secrets."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest

from provider import ExecutionInput, InvalidSpecError
from provider.config import ConfigError, RestateSettings
from provider.restate import RestateProvider
from provider.restate.input_secrets import InputSecrets
from sealing import KEYRING_ENV, KEYRING_FILE_ENV, Keyring

MARKER = "s3cr3t-input-91ad"
DOCUMENT: dict[str, Any] = {
    "tenant_id": "acme",
    "operation": "provision",
    "desired_config": {"env": {"DB_PASSWORD": MARKER}},
}


def _nothing_sent(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"nothing may be sent: {request.method} {request.url}")


def _provider(keyring: Keyring | None) -> RestateProvider:
    transport = httpx.MockTransport(_nothing_sent)
    return RestateProvider(
        RestateSettings(register_on_startup=False),
        keyring=keyring,
        ingress_transport=transport,
        admin_transport=transport,
    )


@pytest.mark.parametrize(
    ("document", "keyring", "expected"),
    [
        (DOCUMENT, None, "input: desired_config.env.DB_PASSWORD is a secret, and no keyring"),
        (
            {"tenant_id": "acme", "metadata": {"x": {"$secret": MARKER, "also": 1}}},
            Keyring.parse(Keyring.new_entry("k1")),
            "input.metadata.x: a $secret object holds only that key",
        ),
        (
            {"tenant_id": "acme", "desired_config": {"env": {"T": {"$secret_ref": 7}}}},
            Keyring.parse(Keyring.new_entry("k1")),
            "input.desired_config.env.T: a $secret_ref is a string scheme:name",
        ),
    ],
    ids=["no-keyring", "marker-with-more-keys", "reference-not-a-string"],
)
async def test_an_input_that_cannot_be_sealed_is_refused_before_anything_is_sent(
    document: dict[str, Any],
    keyring: Keyring | None,
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEYRING_ENV, raising=False)
    monkeypatch.delenv(KEYRING_FILE_ENV, raising=False)
    provider = _provider(keyring)
    try:
        with pytest.raises(InvalidSpecError) as refused:
            await provider.start_execution(
                "tenant-provisioning", ExecutionInput(execution_name="run-1", input=document)
            )
    finally:
        await provider.aclose()
    assert expected in str(refused.value)
    assert MARKER not in str(refused.value)


def test_the_keyring_is_read_from_the_environment_unless_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEYRING_ENV, Keyring.new_entry("from-env"))
    assert _provider(None).secrets.keyring.current == "from-env"  # type: ignore[union-attr]
    given = Keyring.parse(Keyring.new_entry("given"))
    assert _provider(given).secrets.keyring is given
    monkeypatch.setenv(KEYRING_ENV, "k1=short")
    with pytest.raises(ConfigError, match="LANDLORD_SECRETS_KEYRING: key 'k1' is not base64url"):
        _provider(None)


def test_a_digest_is_keyed_only_when_the_input_holds_secrets() -> None:
    old = Keyring.parse(Keyring.new_entry("old"))
    secrets = InputSecrets(old)
    sealed = secrets.seal(DOCUMENT, execution="run-1")
    digest = secrets.digest(DOCUMENT, sealed)
    assert digest.startswith("hmac-sha256:old:")
    assert hashlib.sha256(json.dumps(DOCUMENT).encode()).hexdigest() not in digest
    plain: dict[str, Any] = {"tenant_id": "acme", "desired_config": {}}
    assert (
        secrets.digest(plain, secrets.seal(plain, execution="run-1"))
        == hashlib.sha256(
            json.dumps(plain, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
    )
    # a retried start after a rotation still compares with the key the first one used
    rotated = InputSecrets(Keyring.parse(f"{Keyring.new_entry('new')},{_entry(old, 'old')}"))
    assert rotated.same(DOCUMENT, digest)
    changed = {**DOCUMENT, "desired_config": {"env": {"DB_PASSWORD": "other"}}}
    assert not rotated.same(changed, digest)
    assert not InputSecrets(Keyring.parse(Keyring.new_entry("new"))).same(DOCUMENT, digest)
    assert not InputSecrets(None).same(DOCUMENT, digest)


def _entry(keyring: Keyring, kid: str) -> str:
    """The keyring notation of one key of `keyring` (to build a rotated keyring)."""
    return f"{kid}=" + base64.urlsafe_b64encode(keyring.keys[kid]).decode().rstrip("=")
