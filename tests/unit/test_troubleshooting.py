"""docs/troubleshooting.md quotes the project's real failure messages: each case here makes the
failure happen and checks that the page still shows its message word for word."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_stack import (
    LocalRestateServer,
    RestateServerInstallError,
    RestateServerStartError,
    ensure_restate_server,
)
from provider._exceptions import ExecutionConflictError, InvalidSpecError
from provider.cli.secrets_cmd import missing_keys
from provider.restate.input_schema import InputSchema
from provider.restate.input_secrets import InputSecrets
from provider.restate.statuses import summary
from sealing import Keyring, seal_secrets
from services.contract import ProvisionRequest
from services.secrets import RunSecrets, SecretUnavailableError
from tests.servers import REPO_ROOT, environment_without_settings

PAGE = (REPO_ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))
NOBODY = "http://127.0.0.1:9"
"""The discard port: nothing listens there, the same address the page shows."""


def last_error_line(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI with a clean LANDLORD_* environment; its last stderr line."""
    clean = environment_without_settings()
    done = subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, env=clean | (env or {}), timeout=60
    )
    assert done.returncode != 0, done.stdout
    return done.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["config", "show", "--workflow.restate.execution_mechanism=moon"], {}),
        (["config", "show"], {"LANDLORD_WORKFLOW_RESTATE_ENDPOINT": "localhost:8080"}),
        (["config", "show"], {"LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "lambda"}),
        (["config", "show"], {"LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE": "api_key"}),
        (["serve"], {"LANDLORD_SERVICES_IDENTITY_KEYS": "foo"}),
        (
            ["serve"],
            {"LANDLORD_SERVICES_IDENTITY_KEYS_FILE": "/run/landlord/public-keys"},
        ),
        (["register", "--wait", "soon"], {}),
        (["serve"], {"LANDLORD_SECRETS_KEYRING": "foo"}),
        (
            ["execution", "status", "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz"],
            {
                "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": NOBODY,
                "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT": NOBODY,
                "LANDLORD_WORKFLOW_RESTATE_RETRY_ATTEMPTS": "0",
            },
        ),
    ],
    ids=[
        "unknown-mechanism", "url-without-scheme", "lambda-without-arn", "api-key-on-local",
        "bad-identity-key", "missing-keys-file", "bad-wait", "bad-keyring", "unreachable",
    ],
)  # fmt: skip
def test_command_errors_are_quoted(args: list[str], env: dict[str, str]) -> None:
    line = last_error_line(*args, env=env)
    assert f"`{line}`" in PAGE, f"docs/troubleshooting.md does not quote: {line}"


def test_the_port_clash_is_quoted(restate_binary: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LocalRestateServer(binary=restate_binary, data_dir=tmp_path, ingress_port=port)
        with pytest.raises(RestateServerStartError) as raised:
            server.start()
    quoted = str(raised.value).replace(str(port), "8080")
    assert f"`{quoted}`" in PAGE


def test_missing_npm_is_quoted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RestateServerInstallError) as raised:
        ensure_restate_server(cache_dir=tmp_path)
    assert f"`` {raised.value} ``" in PAGE


def test_the_execution_conflict_is_quoted() -> None:
    error = ExecutionConflictError("tenant-provisioning", "provision-acme", execution_id="inv_…")
    assert f"`error: {error}`" in PAGE


def test_the_input_schema_problem_is_quoted() -> None:
    with pytest.raises(InvalidSpecError) as raised:
        InputSchema(ProvisionRequest.model_json_schema()).check(
            {"tenant_id": "acme", "operation": "explode"}
        )
    assert f"`error: invalid {raised.value.subject}`" in PAGE
    assert f"`{raised.value.problems[0]}`" in PAGE


def test_the_deadline_message_is_quoted() -> None:
    row = {"id": "inv_1", "status": "completed", "completion_result": "failure"}
    status = summary(row, workflow_id="w", provider_type="restate", deadline="30m")
    assert status.error is not None
    assert f"`{status.error.message}`" in PAGE


def test_a_bad_keyring_on_the_control_plane_is_quoted() -> None:
    line = last_error_line(
        "execution", "status", "inv_1gdJBtdVEcM942bjcDmb1c1khoaJe11Hbz",
        env={"LANDLORD_SECRETS_KEYRING": "foo"},
    )  # fmt: skip
    assert line.startswith("error: invalid configuration: LANDLORD_SECRETS_KEYRING: ")
    assert "`error: invalid configuration: LANDLORD_SECRETS_KEYRING: …`" in PAGE


def test_the_refusal_without_a_keyring_is_quoted() -> None:
    document: dict[str, Any] = {
        "tenant_id": "acme",
        "operation": "provision",
        "desired_config": {"env": {"DB_PASSWORD": "pw"}},
    }
    with pytest.raises(InvalidSpecError) as raised:
        InputSecrets(None).seal(document, execution="provision-acme")
    assert f"`{raised.value.problems[0]}`" in PAGE


async def test_the_secrets_that_do_not_open_are_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The services' messages, as the `check secrets` step fails with them."""
    monkeypatch.delenv("API_TOKEN", raising=False)
    k1 = Keyring.parse(Keyring.new_entry("k1"))
    cases: list[tuple[Keyring, dict[str, Any]]] = [
        (Keyring.parse(Keyring.new_entry("k2")), {"DB_PASSWORD": "pw"}),
        (Keyring.parse(Keyring.new_entry("k1")), {"DB_PASSWORD": "pw"}),
        (k1, {"API_TOKEN": {"$secret_ref": "env:API_TOKEN"}}),
    ]
    for sealer, env in cases:
        document: Any = seal_secrets(
            {"tenant_id": "acme", "desired_config": {"env": env}},
            keyring=sealer,
            execution="provision-acme",
        )
        config = document["desired_config"]
        secrets = RunSecrets(
            tenant_id="acme", execution="provision-acme", desired=config, keyring=lambda: k1
        )
        with pytest.raises(SecretUnavailableError) as raised:
            await secrets.reveal(config)
        assert f"`step 'check secrets' failed: {raised.value}`" in PAGE


def test_the_failed_rotation_check_is_quoted() -> None:
    assert f"`error: {missing_keys(['k1'])}`" in PAGE
