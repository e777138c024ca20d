"""A run's secrets inside the services: validated as placeholders, shown masked, opened only
when handed to a backend (errors scrubbed), sealed again in what the backend reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

from sealing import Binding, Envelope, Keyring, open_envelope, seal_secrets
from services.compute import ComputeRejectedError, ComputeState, LocalBackend
from services.secrets import PLACEHOLDER, RunSecrets, SecretUnavailableError

MARKER = "s3cr3t-run-4b2e"
KEYRING = Keyring.parse(Keyring.new_entry("k1"))


def _sealed(config: dict[str, Any], *, tenant: str = "acme", execution: str = "run-1") -> Any:
    document: dict[str, Any] = {"tenant_id": tenant, "desired_config": config}
    sealed: Any = seal_secrets(document, keyring=KEYRING, execution=execution)
    return sealed["desired_config"]


def _secrets(config: dict[str, JsonValue], **extra: object) -> RunSecrets:
    return RunSecrets(
        tenant_id="acme",
        execution="run-1",
        desired=config,
        keyring=extra.get("keyring", lambda: KEYRING),  # type: ignore[arg-type]
    )


def test_a_backend_validates_the_shape_and_the_markers_come_back(tmp_path: Path) -> None:
    config = _sealed({"env": {"A": MARKER}, "settings": {"t": {"$secret": MARKER}}})
    secrets = _secrets(config)
    shape = secrets.shape(config)
    assert shape["env"] == {"A": PLACEHOLDER}
    normalized = LocalBackend(state_dir=tmp_path).validate_config(shape)
    assert normalized["health_path"] == "/health"  # a default filled in
    restored = secrets.restore(normalized, config)
    assert restored["env"] == config["env"]
    assert restored["settings"] == config["settings"]
    assert MARKER not in json.dumps(restored)


def test_secrets_are_shown_masked() -> None:
    config = _sealed({"env": {"A": MARKER}, "settings": {"t": {"$secret": MARKER}, "n": 1}})
    shown = _secrets(config).masked(config)
    assert shown == {"env": {"A": "***"}, "settings": {"t": "***", "n": 1}}
    assert _secrets({}).masked({"settings": {}}) == {"settings": {}}


async def test_revealing_opens_envelopes_and_references(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUN_SECRETS_TEST_REF", MARKER + "-ref")
    config = _sealed(
        {"env": {"A": MARKER, "R": {"$secret_ref": "env:RUN_SECRETS_TEST_REF"}}, "port": 8000}
    )
    secrets = _secrets(config)
    plain = await secrets.reveal(config)
    assert plain == {"env": {"A": MARKER, "R": MARKER + "-ref"}, "port": 8000}
    assert MARKER not in json.dumps(config)  # the journaled config itself is untouched


@pytest.mark.parametrize(
    ("config", "keyring", "expected"),
    [
        (
            {"env": {"R": {"$secret_ref": "env:RUN_SECRETS_UNSET"}}},
            KEYRING,
            "env:RUN_SECRETS_UNSET",
        ),
        ({"env": {"A": MARKER}}, Keyring.parse(Keyring.new_entry("k2")), "key id 'k1'"),
        ({"env": {"A": MARKER}}, Keyring.parse(Keyring.new_entry("k1")), "does not open"),
        ({"env": {"A": MARKER}}, None, "the services have no keyring"),
        ({"x": {"$secret": MARKER}}, KEYRING, "reached the services unsealed"),
    ],
    ids=["unresolvable-reference", "unknown-key", "other-key", "no-keyring", "unsealed"],
)
async def test_a_secret_that_cannot_open_is_one_line_without_its_value(
    config: dict[str, JsonValue], keyring: Keyring | None, expected: str
) -> None:
    sealed = _sealed(config) if "x" not in config else config
    secrets = _secrets(sealed, keyring=lambda: keyring)
    with pytest.raises(SecretUnavailableError) as caught:
        await secrets.reveal(sealed)
    message = str(caught.value)
    assert expected in message
    assert "desired_config." in message
    assert MARKER not in message
    assert "\n" not in message


async def test_an_envelope_copied_into_another_tenants_request_does_not_open() -> None:
    theirs = _sealed({"env": {"A": MARKER}}, tenant="other")
    with pytest.raises(SecretUnavailableError, match="does not open"):
        await _secrets(theirs).reveal(theirs)


def test_what_a_backend_reports_is_masked_or_sealed_for_this_run() -> None:
    config = _sealed({"env": {"A": MARKER}, "settings": {"t": {"$secret": MARKER}}})
    observed = ComputeState(
        exists=True,
        config={
            "env": {"A": MARKER, "LEFT_OVER": MARKER},
            "settings": {"t": MARKER, "n": 1},
        },
    )
    assert _secrets(config).conceal(observed).config == {
        "env": {"A": "***", "LEFT_OVER": "***"},
        "settings": {"t": "***", "n": 1},
    }
    concealed = _secrets(config).conceal(observed, reopenable=True)
    assert MARKER not in concealed.model_dump_json()
    assert concealed.config["settings"]["n"] == 1  # type: ignore[index,call-overload]
    envelope = Envelope.of(concealed.config["env"]["LEFT_OVER"])  # type: ignore[index,call-overload]
    assert envelope is not None
    binding = Binding("acme", "run-1", "observed_config.env.LEFT_OVER")
    assert open_envelope(envelope, keyring=KEYRING, binding=binding) == MARKER
    masked = _secrets(config, keyring=lambda: None).conceal(observed, reopenable=True)
    assert masked.config["env"] == {"A": "***", "LEFT_OVER": "***"}


async def test_a_concealed_report_opens_again_for_a_compensation() -> None:
    config = _sealed({"env": {"A": MARKER}})
    secrets = _secrets(config)
    state = ComputeState(exists=True, config={"env": {"A": MARKER}})
    concealed = secrets.conceal(state, reopenable=True)
    plain = await secrets.reveal(concealed.config, root="observed_config")
    assert plain == {"env": {"A": MARKER}}


async def test_a_backend_error_never_carries_an_opened_value() -> None:
    config = _sealed({"env": {"A": MARKER}})
    secrets = _secrets(config)

    async def leaky(plain: dict[str, JsonValue]) -> None:
        raise ComputeRejectedError(f"bad env {plain['env']}")

    async def flaky(plain: dict[str, JsonValue]) -> None:
        raise ConnectionError(f"retry later ({plain['env']})")

    async def clean(plain: dict[str, JsonValue]) -> None:
        raise ConnectionError("refused")

    with pytest.raises(ComputeRejectedError) as rejected:
        await secrets.opened(config, leaky)
    assert MARKER not in str(rejected.value)
    assert "***" in str(rejected.value)
    with pytest.raises(RuntimeError) as retried:
        await secrets.opened(config, flaky)
    assert MARKER not in str(retried.value)
    assert retried.value.__cause__ is None
    assert retried.value.__suppress_context__
    with pytest.raises(ConnectionError, match="refused"):
        await secrets.opened(config, clean)


@pytest.mark.parametrize("kind", ["variable", "file variable", "file"])
async def test_a_reference_to_the_services_keyring_is_refused(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request may name the services' environment and files, but never their keyring."""
    keyring_file = tmp_path / "keyring"
    keyring_file.write_text(Keyring.new_entry("k1"))
    monkeypatch.setenv("LANDLORD_SECRETS_KEYRING_FILE", str(keyring_file))
    reference = {
        "variable": "env:LANDLORD_SECRETS_KEYRING",
        "file variable": "env:LANDLORD_SECRETS_KEYRING_FILE",
        "file": f"file:{tmp_path}/../{tmp_path.name}/keyring",
    }[kind]
    config: dict[str, Any] = {"env": {"K": {"$secret_ref": reference}}}
    with pytest.raises(SecretUnavailableError, match="names the services' secrets keyring"):
        await _secrets(config).reveal(config)
