"""`landlord-restate identity-key`: makes the request-signing key once, never replaces it, and
prints the public key id the services need; a file that is not such a key is one line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provider.cli import app
from provider.restate.identity import KEY_ID_PREFIX, base58, public_key_id

runner = CliRunner()


def test_makes_a_private_key_once_and_prints_its_id(tmp_path: Path) -> None:
    pem = tmp_path / "keys" / "private.pem"
    public = tmp_path / "public-keys"
    made = runner.invoke(app, ["identity-key", str(pem), "--public-out", str(public)])
    assert made.exit_code == 0, made.output
    printed = made.stdout.strip()
    assert printed.startswith(KEY_ID_PREFIX)
    assert printed == public_key_id(pem.read_bytes())
    assert public.read_text() == printed + "\n"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")

    before = pem.read_bytes()
    kept = runner.invoke(app, ["identity-key", str(pem)])
    assert kept.exit_code == 0
    assert kept.stdout.strip() == printed
    assert pem.read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello", "not a PEM private key without a passphrase"),
        (
            b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
            "not a PEM private key without a passphrase",
        ),
    ],
)
def test_a_file_that_is_not_a_key_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    pem = tmp_path / "private.pem"
    pem.write_bytes(content)
    result = runner.invoke(app, ["identity-key", str(pem)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {pem}: {message}"
    assert pem.read_bytes() == content


def test_base58_keeps_leading_zero_bytes() -> None:
    assert base58(b"\0\0\x01") == "112"
    assert base58(b"") == ""
