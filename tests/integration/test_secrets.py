"""A tenant's secrets against a real restate-server and the real services: sealed by the
provider, opened only in the step that hands them to compute, and absent from everything
Restate keeps, every log, every status and every callback; bad envelopes and references fail
the operation before any compute call; a rotated key leaves what is in flight running.

The services hold the keyring `new,old`; providers seal with `new` (current) or `old`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from structlog.testing import capture_logs

from local_stack import LocalRestateServer
from provider import (
    ExecutionConflictError,
    ExecutionInput,
    ExecutionState,
    ExecutionStatus,
    InvalidSpecError,
)
from provider.config import RestateSettings
from provider.restate import RestateProvider, tenant_workflow_spec
from sealing import KEYRING_ENV, KEYRING_FILE_ENV, Keyring, seal_secrets
from services.compute import LocalBackend, TenantRef
from services.compute.tenant_app import SETTINGS_ENV
from tests.integration.tenants.callbacks import CallbackServer
from tests.servers import AsgiProcess, environment_without_settings

TENANT = "tenant-provisioning"
NEW = Keyring.new_entry("new")
OLD = Keyring.new_entry("old")
SERVICES_KEYRING = f"{NEW},{OLD}"
DEADLINE_SECONDS = 60.0
SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))


@dataclass
class Stack:
    server: LocalRestateServer
    services: AsgiProcess
    services_log: Path
    backend: LocalBackend

    def provider(self, keyring: str | None) -> RestateProvider:
        settings = RestateSettings(
            endpoint=self.server.ingress_url,
            admin_endpoint=self.server.admin_url,
            deployment_uri=self.services.url,
            register_on_startup=False,
        )
        return RestateProvider(settings, keyring=Keyring.parse(keyring) if keyring else None)

    def report_sections(self) -> list[tuple[str, str]]:
        return [("services log tail", self.services.log_tail())]


@pytest.fixture(scope="module")
def secrets_server(
    restate_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRestateServer]:
    """A server of this module's own: every journal, state and log searched here is this
    module's, and every execution in flight is one of its own."""
    with LocalRestateServer(
        binary=restate_binary, data_dir=tmp_path_factory.mktemp("restate-secrets"), partitions=1
    ) as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    secrets_server: LocalRestateServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The services with the keyring `new,old` (debug logs, JSON), and the tenant workflow."""
    state_dir = tmp_path_factory.mktemp("tenants")
    work_dir = tmp_path_factory.mktemp("services")
    services = AsgiProcess(
        app_ref="services.app:app",
        work_dir=work_dir,
        env={
            "LANDLORD_SERVICES_STATE_DIR": str(state_dir),
            "LANDLORD_SERVICES_LOG_FORMAT": "json",
            "LANDLORD_SERVICES_LOG_LEVEL": "debug",
            KEYRING_ENV: SERVICES_KEYRING,
        },
    )
    services.start()
    built = Stack(
        secrets_server, services, work_dir / "hypercorn.log", LocalBackend(state_dir=state_dir)
    )

    async def create() -> None:
        provider = built.provider(NEW)
        try:
            await provider.create_workflow(tenant_workflow_spec(provider.settings))
        finally:
            await provider.aclose()

    try:
        asyncio.run(create())
        yield built
    finally:
        services.stop()


@pytest.fixture
async def right(stack: Stack) -> AsyncIterator[RestateProvider]:
    """A provider sealing with the services' current key."""
    opened = stack.provider(NEW)
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture
def tenant(stack: Stack) -> Iterator[str]:
    tenant_id = f"s-{uuid.uuid4().hex[:10]}"
    yield tenant_id
    asyncio.run(stack.backend.destroy(TenantRef(tenant_id=tenant_id)))


def _name() -> str:
    return f"sec-{uuid.uuid4().hex[:10]}"


async def _start(provider: RestateProvider, payload: dict[str, Any], name: str = "") -> str:
    started = await provider.start_execution(
        TENANT, ExecutionInput(execution_name=name or _name(), input=payload)
    )
    return started.execution_id


async def _ended(provider: RestateProvider, execution_id: str) -> ExecutionStatus:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        status = await provider.get_execution_status(execution_id)
        if status.state.is_terminal:
            return status
        assert time.monotonic() < deadline, f"{execution_id} did not end: {status}"
        await asyncio.sleep(0.05)


def _texts(value: Any) -> Iterator[str]:
    """Every string in `value`, and every byte array in it decoded (as a journal holds payloads)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        if value and all(isinstance(b, int) and 0 <= b <= 255 for b in value):
            yield bytes(value).decode("utf-8", errors="replace")
        for item in value:
            yield from _texts(item)


def _request(tenant: str, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "operation": "provision",
        "compute_provider": "local",
        **extra,
    }


async def test_no_secret_reaches_restate_a_log_a_status_or_a_callback(
    stack: Stack,
    right: RestateProvider,
    tenant: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One marker in env, one `$secret` in settings, one `$secret_ref` to a file: after the
    provision, none is in Restate's journal, state or invocation rows, the server's log, the
    services' or the control plane's logs, the status or the callbacks; all three are in the
    tenant process's environment."""
    marker = f"mk{uuid.uuid4().hex}"
    in_env, in_settings, by_reference = f"{marker}-env", f"{marker}-set", f"{marker}-ref"
    referenced = tmp_path / "token"
    referenced.write_text(by_reference + "\n")
    caplog.set_level(logging.DEBUG)
    with CallbackServer() as callbacks, capture_logs() as control_logs:
        payload = _request(
            tenant,
            api_base_url=callbacks.url,
            desired_config={
                "env": {
                    "DB_PASSWORD": in_env,
                    "API_TOKEN": {"$secret_ref": f"file:{referenced}"},
                },
                "settings": {"upstream_key": {"$secret": in_settings}, "region": "eu"},
            },
        )
        execution_id = await _start(right, payload)
        status = await _ended(right, execution_id)
        assert status.state is ExecutionState.SUCCEEDED, status.error
        statuses = await right.get_execution_statuses([execution_id])
    # present where it is used: the tenant process's environment
    processes = stack.backend.processes(TenantRef(tenant_id=tenant))
    assert processes
    environ = (
        await asyncio.to_thread(Path(f"/proc/{processes[0].pid}/environ").read_bytes)
    ).decode()
    assert f"DB_PASSWORD={in_env}" in environ
    assert f"API_TOKEN={by_reference}" in environ
    assert in_settings in psutil.Process(processes[0].pid).environ()[SETTINGS_ENV]
    # the local backend's record of what it runs holds them too, readable by its user only
    record = stack.backend.state_dir / f"{tenant}.json"
    assert (await asyncio.to_thread(record.stat)).st_mode & 0o777 == 0o600
    # absent everywhere else
    admin = right.admin
    journal = await admin.query("SELECT * FROM sys_journal")
    state = await admin.query("SELECT * FROM state")
    rows = await admin.query(f"SELECT * FROM sys_invocation WHERE id = '{execution_id}'")
    assert any(r["id"] == execution_id for r in journal)
    places: dict[str, list[str]] = {
        "sys_journal": [t for r in journal for t in _texts(json.loads(r["entry_json"] or "null"))]
        + [t for r in journal for t in _texts(r)],
        "state": [t for r in state for t in _texts(r)],
        "sys_invocation": [t for r in rows for t in _texts(r)],
        "status": [status.model_dump_json(), *(s.model_dump_json() for s in statuses.values())],
        "restate-server log": [stack.server.log_text()],
        "services log": [stack.services_log.read_text()],
        "control plane log": [json.dumps(control_logs, default=str), caplog.text],
        "callbacks": [json.dumps(callbacks.received)],
    }
    assert callbacks.received, "the callback receiver got nothing: the check would be empty"
    assert status.input is not None
    assert status.history
    for place, texts in places.items():
        for text in texts:
            assert marker not in text, (
                f"a secret reached the {place}: …{text[text.find(marker) - 80 :][:200]}…"
            )


async def test_an_input_with_secrets_and_no_keyring_is_refused_and_nothing_is_sent(
    stack: Stack, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEYRING_ENV, raising=False)
    monkeypatch.delenv(KEYRING_FILE_ENV, raising=False)
    provider = stack.provider(None)
    name = _name()
    try:
        with pytest.raises(InvalidSpecError) as refused:
            await _start(provider, _request(tenant, desired_config={"env": {"A": "pw"}}), name)
        assert "LANDLORD_SECRETS_KEYRING" in str(refused.value)
        assert "pw" not in str(refused.value).replace("pass", "")
        rows = await provider.admin.query(
            f"SELECT id FROM sys_invocation WHERE target_service_key = '{name}'"
        )
        assert rows == []
    finally:
        await provider.aclose()


async def test_a_retried_start_is_the_same_execution_and_a_changed_secret_a_conflict(
    right: RestateProvider, stack: Stack, tenant: str
) -> None:
    """Sealing differs at every start (a fresh nonce); the keyed digest of what the caller
    gave does not."""
    name = _name()
    payload = _request(tenant, desired_config={"env": {"A": "first"}})
    first = await _start(right, payload, name)
    assert await _start(right, payload, name) == first
    changed = _request(tenant, desired_config={"env": {"A": "second"}})
    with pytest.raises(ExecutionConflictError):
        await _start(right, changed, name)
    assert (await _ended(right, first)).state is ExecutionState.SUCCEEDED


def _sealed_for(tenant: str, execution: str, keyring: str, config: dict[str, Any]) -> Any:
    document: dict[str, Any] = {"tenant_id": tenant, "desired_config": config}
    sealed: Any = seal_secrets(document, keyring=Keyring.parse(keyring), execution=execution)
    return sealed["desired_config"]


def _tampered(config: Any) -> Any:
    envelope = config["env"]["A"]["$sealed"]
    data = envelope["data"]
    envelope["data"] = ("B" if data[0] != "B" else "C") + data[1:]
    return config


@pytest.mark.parametrize(
    "case", ["wrong-key", "unknown-key-id", "tampered", "replayed-into-another-tenant"]
)
async def test_a_bad_envelope_fails_terminally_before_any_compute_call(
    stack: Stack, right: RestateProvider, tenant: str, case: str
) -> None:
    """Each ends failed, in the `check secrets` step, naming the field and key id (never a
    value); no compute was created, and the tenant is free for the next operation."""
    marker = f"mk{uuid.uuid4().hex}"
    name = _name()
    if case == "wrong-key":
        sealer, config = Keyring.new_entry("new"), {"env": {"A": marker}}
    elif case == "unknown-key-id":
        sealer, config = Keyring.new_entry("gone"), {"env": {"A": marker}}
    elif case == "tampered":
        sealer, config = None, _tampered(_sealed_for(tenant, name, NEW, {"env": {"A": marker}}))
    else:
        sealer, config = None, _sealed_for("another", name, NEW, {"env": {"A": marker}})
    provider = stack.provider(sealer or NEW)
    try:
        execution_id = await _start(provider, _request(tenant, desired_config=config), name)
        status = await _ended(provider, execution_id)
        assert status.state is ExecutionState.FAILED
        assert status.error is not None
        message = status.error.message
        assert "step 'check secrets' failed: desired_config.env.A:" in message
        assert ("'gone'" if case == "unknown-key-id" else "'new'") in message
        assert marker not in status.model_dump_json()
        steps = [e.details.get("name") for e in status.history]
        assert not any(str(s).startswith("provision") for s in steps if s)
        assert stack.backend.processes(TenantRef(tenant_id=tenant)) == []
        # the failed run let go of the tenant: a good provision runs next
        good = await _start(right, _request(tenant, desired_config={"env": {"A": "fine"}}))
        assert (await _ended(right, good)).state is ExecutionState.SUCCEEDED
    finally:
        await provider.aclose()


async def test_a_malformed_marker_sent_past_the_provider_is_refused_naming_the_field(
    stack: Stack, tenant: str
) -> None:
    """The provider refuses it before sending; straight through the ingress it is a 400."""
    marker = f"mk{uuid.uuid4().hex}"
    request = _request(tenant, desired_config={"settings": {"x": {"$secret": marker, "y": 1}}})
    url = f"{stack.server.ingress_url}/restate/call/TenantProvisioning/{_name()}/run"
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:
        response = await client.post(url, json=request)
    assert response.status_code == 400
    assert "desired_config.settings.x: a $secret object holds only that key" in response.text
    assert marker not in response.text


async def test_an_unresolvable_reference_fails_naming_it_before_any_compute_call(
    right: RestateProvider, stack: Stack, tenant: str
) -> None:
    config = {"env": {"T": {"$secret_ref": "env:LANDLORD_TEST_NEVER_SET"}}}
    execution_id = await _start(right, _request(tenant, desired_config=config))
    status = await _ended(right, execution_id)
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert "secret reference 'env:LANDLORD_TEST_NEVER_SET' cannot be resolved" in (
        status.error.message
    )
    assert stack.backend.processes(TenantRef(tenant_id=tenant)) == []


async def test_an_update_puts_the_old_secret_back_when_it_fails(
    right: RestateProvider, stack: Stack, tenant: str
) -> None:
    """The update's compensation restores the config it observed, secrets included: they were
    sealed again in the `observe` step's result, and open for the compensation."""
    marker = f"mk{uuid.uuid4().hex}"
    first = await _start(right, _request(tenant, desired_config={"env": {"A": marker}}))
    assert (await _ended(right, first)).state is ExecutionState.SUCCEEDED
    broken = {"env": {"A": "changed"}, "health_path": "/never"}
    update = _request(tenant, operation="update", desired_config=broken, health_timeout="1s")
    status = await _ended(right, await _start(right, update))
    assert status.state is ExecutionState.FAILED
    assert marker not in status.model_dump_json()
    processes = stack.backend.processes(TenantRef(tenant_id=tenant))
    assert processes
    assert psutil.Process(processes[0].pid).environ()["A"] == marker


async def test_a_rotated_key_keeps_what_is_in_flight_and_the_check_names_it(
    stack: Stack, tenant: str, tmp_path: Path
) -> None:
    """An execution sealed under `old` still finishes after `new` became current; while it
    runs, `secrets check` counts it under `old`, and fails against a keyring without `old`."""
    old_side, new_side = stack.provider(OLD), stack.provider(NEW)
    try:
        slow = {"env": {"A": "old-one"}, "health_path": "/never"}
        held = await _start(old_side, _request(tenant, desired_config=slow, health_timeout="2m"))
        for side, suffix in ((old_side, "old"), (new_side, "new")):
            other = f"{tenant}-{suffix}"
            quick = await _start(side, _request(other, desired_config={"env": {"A": "x"}}))
            assert (await _ended(side, quick)).state is ExecutionState.SUCCEEDED
            await stack.backend.destroy(TenantRef(tenant_id=other))
        in_flight = await new_side.key_ids_in_flight()
        assert held in in_flight["old"]

        both = tmp_path / "both"
        both.write_text(SERVICES_KEYRING)
        only_new = tmp_path / "only-new"
        only_new.write_text(NEW)
        flags = [
            f"--workflow.restate.endpoint={stack.server.ingress_url}",
            f"--workflow.restate.admin_endpoint={stack.server.admin_url}",
        ]

        def check(keyring: Path, *extra: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [SCRIPT, "secrets", "check", "--keyring-file", str(keyring), *extra, *flags],
                capture_output=True,
                text=True,
                env=environment_without_settings(),
                timeout=120,
                check=False,
            )

        ok = await asyncio.to_thread(check, both, "-o", "json")
        assert ok.returncode == 0, ok.stderr
        report = json.loads(ok.stdout)
        assert report["missing"] == []
        assert report["in_flight"]["old"] >= 1
        bad = await asyncio.to_thread(check, only_new)
        assert bad.returncode == 1
        assert "key id 'old'" in bad.stderr
        assert "old" in bad.stdout
        assert NEW.split("=", 1)[1] not in bad.stdout + bad.stderr
        await old_side.stop_execution(held, reason="test over")
        assert (await _ended(old_side, held)).state is ExecutionState.CANCELLED
    finally:
        await old_side.aclose()
        await new_side.aclose()
