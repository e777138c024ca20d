"""The shared sealing package: the keyring notation, envelopes bound to tenant, execution and
field, the walk that seals an input's secrets, and the keyed digest."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sealing import (
    KEYRING_ENV,
    KEYRING_FILE_ENV,
    Binding,
    Envelope,
    Keyring,
    KeyringError,
    MarkerError,
    NoKeyringError,
    TamperedError,
    UnknownKeyError,
    key_ids,
    mask_secrets,
    open_envelope,
    seal,
    seal_secrets,
)

MARKER = "s3cr3t-marker-7f1c"
HERE = Binding("acme", "run-1", "desired_config.env.DB_PASSWORD")


def _keyring(*kids: str) -> Keyring:
    return Keyring.parse(",".join(Keyring.new_entry(kid) for kid in kids))


def test_the_first_key_is_current_and_the_repr_shows_ids_only() -> None:
    text = ",".join(Keyring.new_entry(k) for k in ("new", "old"))
    keyring = Keyring.parse(text)
    assert keyring.current == "new"
    assert set(keyring.keys) == {"new", "old"}
    shown = repr(keyring)
    assert "new" in shown
    assert all(entry.split("=", 1)[1] not in shown for entry in text.split(","))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "holds no key"),
        ("k1", "entry 1 must be kid=<base64url of 32 bytes>"),
        ("bad id=AAAA", "entry 1 must be kid="),
        ("k1=" + base64.urlsafe_b64encode(b"short").decode(), "key 'k1' is not base64url of 32"),
        ("k1=%%%%", "key 'k1' is not base64url of 32 bytes"),
    ],
)
def test_a_bad_keyring_is_one_line_naming_the_variable(text: str, expected: str) -> None:
    with pytest.raises(KeyringError) as caught:
        Keyring.parse(text)
    message = str(caught.value)
    assert message.startswith(f"{KEYRING_ENV}: ")
    assert expected in message
    assert "\n" not in message


def test_a_repeated_key_id_is_refused_without_showing_a_key() -> None:
    first, second = Keyring.new_entry("k1"), Keyring.new_entry("k1")
    with pytest.raises(KeyringError, match="key id 'k1' appears twice") as caught:
        Keyring.parse(f"{first},{second}")
    assert first.split("=", 1)[1] not in str(caught.value)


def test_the_keyring_comes_from_the_variable_else_the_file(tmp_path: Path) -> None:
    entry = Keyring.new_entry("filed")
    path = tmp_path / "keyring"
    path.write_text(entry + "\n")
    assert Keyring.from_environment({}) is None
    assert Keyring.from_environment({KEYRING_FILE_ENV: str(path)}).current == "filed"  # type: ignore[union-attr]
    both = {KEYRING_ENV: Keyring.new_entry("var"), KEYRING_FILE_ENV: str(path)}
    assert Keyring.from_environment(both).current == "var"  # type: ignore[union-attr]
    with pytest.raises(KeyringError, match=f"{KEYRING_FILE_ENV}: cannot read"):
        Keyring.from_environment({KEYRING_FILE_ENV: str(tmp_path / "absent")})


def test_an_envelope_opens_for_its_binding_only() -> None:
    keyring = _keyring("k1")
    sealed = seal(MARKER, keyring=keyring, binding=HERE)
    assert MARKER not in json.dumps(sealed)
    envelope = Envelope.of(sealed)
    assert envelope is not None
    assert envelope.kid == "k1"
    assert open_envelope(envelope, keyring=keyring, binding=HERE) == MARKER
    for elsewhere in (
        Binding("other-tenant", HERE.execution, HERE.field),
        Binding(HERE.tenant_id, "run-2", HERE.field),
        Binding(HERE.tenant_id, HERE.execution, "desired_config.env.OTHER"),
    ):
        with pytest.raises(TamperedError, match="does not open") as caught:
            open_envelope(envelope, keyring=keyring, binding=elsewhere)
        assert MARKER not in str(caught.value)


def test_any_json_value_can_be_sealed() -> None:
    keyring = _keyring("k1")
    value: dict[str, Any] = {"user": "app", "port": 5432, "tls": True}
    envelope = Envelope.of(seal(value, keyring=keyring, binding=HERE))
    assert envelope is not None
    assert open_envelope(envelope, keyring=keyring, binding=HERE) == value


def test_another_key_under_the_same_id_or_a_changed_ciphertext_does_not_open() -> None:
    sealed = seal(MARKER, keyring=_keyring("k1"), binding=HERE)
    envelope = Envelope.of(sealed)
    assert envelope is not None
    with pytest.raises(TamperedError, match="key id 'k1' does not open"):
        open_envelope(envelope, keyring=_keyring("k1"), binding=HERE)
    data = bytearray(base64.urlsafe_b64decode(envelope.data + "=="))
    data[0] ^= 1
    changed = envelope.model_copy(
        update={"data": base64.urlsafe_b64encode(bytes(data)).decode().rstrip("=")}
    )
    with pytest.raises(TamperedError):
        open_envelope(changed, keyring=_keyring("k1"), binding=HERE)


def test_an_unknown_key_id_is_named() -> None:
    envelope = Envelope.of(seal(MARKER, keyring=_keyring("gone"), binding=HERE))
    assert envelope is not None
    with pytest.raises(UnknownKeyError) as caught:
        open_envelope(envelope, keyring=_keyring("k1"), binding=HERE)
    assert str(caught.value) == (
        "desired_config.env.DB_PASSWORD: sealed with key id 'gone', which this keyring does "
        "not hold"
    )
    assert caught.value.key_id == "gone"


@pytest.mark.parametrize(
    "value",
    [
        {"$sealed": {"v": 1, "kid": "k1"}},
        {"$sealed": "text"},
        {"$sealed": {"v": 2, "kid": "k1", "nonce": "", "data": ""}},
        {"$sealed": {"v": 1, "kid": "k1", "nonce": "", "data": ""}, "extra": 1},
    ],
)
def test_a_malformed_envelope_is_tampered(value: object) -> None:
    with pytest.raises(TamperedError, match=r"env\.X: is not a well-formed sealed envelope"):
        Envelope.of(value, field="env.X")


def _request(**config: Any) -> dict[str, Any]:
    return {"tenant_id": "acme", "operation": "provision", "desired_config": config}


def test_sealing_an_input_seals_env_values_and_marked_secrets_only() -> None:
    keyring = _keyring("k1")
    document = _request(
        env={"DB_PASSWORD": MARKER, "REF": {"$secret_ref": "env:TOKEN"}},
        settings={"token": {"$secret": MARKER + "-2"}, "region": "eu"},
        image="nginx",
    )
    document["metadata"] = {"note": {"$secret": MARKER + "-3"}}
    sealed: Any = seal_secrets(document, keyring=keyring, execution="run-1")
    text = json.dumps(sealed)
    assert MARKER not in text
    config = sealed["desired_config"]
    assert config["env"]["REF"] == {"$secret_ref": "env:TOKEN"}
    assert config["settings"]["region"] == "eu"
    assert config["image"] == "nginx"
    token = Envelope.of(config["settings"]["token"])
    assert token is not None
    field = "desired_config.settings.token"
    opened = open_envelope(token, keyring=keyring, binding=Binding("acme", "run-1", field))
    assert opened == MARKER + "-2"
    assert key_ids(sealed) == {"k1"}
    assert document["desired_config"]["env"]["DB_PASSWORD"] == MARKER


def test_an_input_without_secrets_is_sent_as_it_is_and_needs_no_keyring() -> None:
    document = _request(image="nginx", env={"REF": {"$secret_ref": "file:/run/token"}})
    assert seal_secrets(document, keyring=None, execution="run-1") == document


def test_a_secret_without_a_keyring_is_refused_naming_the_settings() -> None:
    with pytest.raises(NoKeyringError) as caught:
        seal_secrets(_request(env={"A": MARKER}), keyring=None, execution="run-1")
    message = str(caught.value)
    assert message == (
        f"desired_config.env.A is a secret, and no keyring is set to seal it: set "
        f"{KEYRING_ENV} or {KEYRING_FILE_ENV}"
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"x": {"$secret": MARKER, "y": 1}}, "desired_config.x: a $secret object holds only"),
        ({"x": {"$secret_ref": 5}}, "desired_config.x: a $secret_ref is a string scheme:name"),
        ({"x": {"$secret_ref": "no-scheme"}}, "a $secret_ref is a string scheme:name"),
        ({"x": [{"$sealed": {}, "k": 1}]}, "desired_config.x[0]: a $sealed object holds only"),
    ],
)
def test_a_malformed_marker_is_refused_naming_the_field(
    config: dict[str, Any], expected: str
) -> None:
    with pytest.raises(MarkerError) as caught:
        seal_secrets(_request(**config), keyring=_keyring("k1"), execution="run-1")
    assert expected in str(caught.value)
    assert MARKER not in str(caught.value)


def test_the_digest_is_keyed_by_a_named_key() -> None:
    keyring = _keyring("k1", "k0")
    digest = keyring.digest(b"input")
    assert digest.startswith("hmac-sha256:k1:")
    assert keyring.digest(b"input", kid="k1") == digest
    assert keyring.digest(b"input", kid="k0") != digest
    assert _keyring("k1").digest(b"input") != digest


def test_a_shown_document_has_every_secret_masked_and_references_kept() -> None:
    sealed = seal_secrets(
        _request(env={"A": MARKER, "R": {"$secret_ref": "env:T"}}), keyring=_keyring("k1"),
        execution="run-1",
    )  # fmt: skip
    document: Any = {
        **sealed,  # type: ignore[dict-item]
        "metadata": {"x": {"$secret": MARKER}, "bad": {"$secret": MARKER, "y": 1}, "n": 1},
    }
    shown = mask_secrets(document)
    assert MARKER not in json.dumps(shown)
    assert shown == {
        "tenant_id": "acme",
        "operation": "provision",
        "desired_config": {"env": {"A": "***", "R": {"$secret_ref": "env:T"}}},
        "metadata": {"x": "***", "bad": "***", "n": 1},
    }
    assert mask_secrets(None) is None
