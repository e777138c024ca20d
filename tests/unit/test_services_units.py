"""The services' pure parts: request parsing, redaction, settings, saga order, config checks."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from pathlib import Path
from unittest.mock import AsyncMock, MagicMock

import pytest
import restate
import structlog
from pydantic import JsonValue, ValidationError
from restate.server_context import DisconnectedException, restate_context_is_replaying

from services.compute import (
    ComputeConfigError,
    ComputeRejectedError,
    LocalBackend,
    MockBackend,
    TenantRef,
)
from services.contract import MAX_INPUT_BYTES as MAX_REQUEST_BYTES
from services.contract import Operation, RetryPolicy
from services.logs import configure
from services.secrets import RunSecrets
from services.settings import ServicesConfigError, ServicesSettings, load_services_settings
from services.workflows.tenant import Saga, TenantOperation, is_cancellation
from services.workflows.tenant_provisioning import parse_request
from telemetry.logs import get_logger

SECRET = "s3cr3t-value-123"


def test_a_full_request_parses() -> None:
    request = parse_request(
        json.dumps(
            {
                "tenant_id": "acme",
                "tenant_uuid": "5f0c",
                "operation": "provision",
                "desired_config": {"settings": {"a": 1}},
                "compute_provider": "local",
                "api_base_url": "https://landlord.example.com/events",
                "metadata": {"config_hash": "abc"},
                "timeout": "10m",
                "retry_policy": {"max_attempts": 5},
            }
        ).encode()
    )
    assert request.operation is Operation.PROVISION
    assert request.timeout == timedelta(minutes=10)
    assert request.retry_policy is not None
    assert request.retry_policy.max_attempts == 5


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (b"", 400, "request must be a JSON object"),
        (b"{", 400, "request is not JSON"),
        (b"\xff\xfe", 400, "request is not JSON"),
        (b'"just a string"', 400, "request must be a JSON object"),
        (b"{}", 400, "tenant_id: is required; operation: is required"),
        (
            b'{"tenant_id": "a b", "operation": "provision"}',
            400,
            "tenant_id: must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        ),
        (
            b'{"tenant_id": "a", "operation": "provision", "timeout": "0s"}',
            400,
            "timeout: must be > 0",
        ),
        (
            b'{"tenant_id": "a", "operation": "provision", "retry_policy": {"backoff_rate": 0}}',
            400,
            "retry_policy.backoff_rate: must be >= 1.0",
        ),
        (
            b'{"tenant_id": "a", "operation": "provision", "api_base_url": "ftp://x"}',
            400,
            "api_base_url: ",
        ),
        (b" " * (MAX_REQUEST_BYTES + 1), 413, f"the limit is {MAX_REQUEST_BYTES}"),
    ],
)
def test_bad_requests_are_terminal_4xx(raw: bytes, code: int, message: str) -> None:
    with pytest.raises(restate.TerminalError) as raised:
        parse_request(raw)
    assert raised.value.status_code == code
    assert message in raised.value.message


def test_only_restates_own_cancellation_counts_as_cancel() -> None:
    assert is_cancellation(restate.TerminalError("cancelled", 409))
    assert not is_cancellation(restate.TerminalError("conflict", 409))
    assert not is_cancellation(restate.TerminalError("cancelled", 500))
    assert not is_cancellation(RuntimeError("cancelled"))


def test_saga_unwinds_newest_first_once() -> None:
    saga = Saga()

    async def undo() -> None:
        return None

    for step in ("reserve", "start", "route"):
        saga.register(step, undo)
    assert [c.step for c in saga.drain()] == ["route", "start", "reserve"]
    assert saga.drain() == []


def test_identity_keys_from_a_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDLORD_SERVICES_IDENTITY_KEYS", "publickeyv1_aaa, publickeyv1_bbb,")
    assert ServicesSettings().identity_keys == ["publickeyv1_aaa", "publickeyv1_bbb"]
    monkeypatch.setenv("LANDLORD_SERVICES_IDENTITY_KEYS", "not-a-key")
    with pytest.raises(ValidationError, match="each key must be a publickeyv1_"):
        ServicesSettings()


def test_no_identity_keys_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANDLORD_SERVICES_IDENTITY_KEYS", raising=False)
    assert ServicesSettings().identity_keys == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"port": 80}, "desired_config.port: "),
        ({"colour": "red"}, "desired_config.colour: is not a known key"),
        ({"command": []}, "desired_config.command: "),
        ({"health_path": "health"}, "desired_config.health_path: "),
        ({"env": {"A": 1}}, "desired_config.env.A: "),
    ],
)
def test_local_config_errors_name_the_key(
    tmp_path: Path, config: dict[str, JsonValue], message: str
) -> None:
    with pytest.raises(ComputeConfigError) as raised:
        LocalBackend(state_dir=tmp_path).validate_config(config)
    assert str(raised.value).startswith(message)


def test_local_config_error_never_echoes_env_values(tmp_path: Path) -> None:
    with pytest.raises(ComputeConfigError) as raised:
        LocalBackend(state_dir=tmp_path).validate_config({"env": {"TOKEN": [SECRET]}})
    assert SECRET not in str(raised.value)


def test_local_defaults() -> None:
    config = LocalBackend(state_dir=Path("x")).validate_config({})
    assert config == {
        "command": None,
        "env": {},
        "port": None,
        "health_path": "/health",
        "settings": {},
    }


def test_mock_backend_scripts_failures() -> None:
    backend = MockBackend()
    tenant = TenantRef(tenant_id="t")
    transient = backend.validate_config({"fail_on": "provision"})
    with pytest.raises(RuntimeError, match="transient"):
        asyncio.run(backend.provision(tenant, transient))
    permanent = backend.validate_config({"fail_on": "provision", "failure": "permanent"})
    with pytest.raises(ComputeRejectedError):
        asyncio.run(backend.provision(tenant, permanent))
    slow = backend.validate_config({"healthy_after": 2})
    assert asyncio.run(backend.provision(tenant, slow)).exists
    assert [asyncio.run(backend.status(tenant)).healthy for _ in range(3)] == [False, True, True]
    asyncio.run(backend.destroy(tenant))
    assert not asyncio.run(backend.status(tenant)).exists


def test_handler_logs_are_dropped_while_restate_replays() -> None:
    stream = io.StringIO()
    configure(ServicesSettings(log_format="json"))
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stream))
    logger = get_logger("test")
    token = restate_context_is_replaying.set(True)
    try:
        logger.info("replayed step")
    finally:
        restate_context_is_replaying.reset(token)
    logger.info("new step")
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["new step"]


def test_identity_keys_file_adds_its_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    keys = tmp_path / "public-keys"
    keys.write_text("publickeyv1_bbb\npublickeyv1_ccc\n")
    monkeypatch.setenv("LANDLORD_SERVICES_IDENTITY_KEYS", "publickeyv1_aaa,publickeyv1_bbb")
    monkeypatch.setenv("LANDLORD_SERVICES_IDENTITY_KEYS_FILE", str(keys))
    assert ServicesSettings().identity_keys == [
        "publickeyv1_aaa",
        "publickeyv1_bbb",
        "publickeyv1_ccc",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "LANDLORD_SERVICES_IDENTITY_KEYS_FILE: cannot read "),
        ("", "LANDLORD_SERVICES_IDENTITY_KEYS_FILE: "),
        (
            "secret-looking-thing",
            "LANDLORD_SERVICES_IDENTITY_KEYS_FILE: each key must be a publickeyv1_",
        ),
    ],
)
def test_a_bad_identity_keys_file_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str | None, message: str
) -> None:
    keys = tmp_path / "public-keys"
    if content is not None:
        keys.write_text(content)
    monkeypatch.delenv("LANDLORD_SERVICES_IDENTITY_KEYS", raising=False)
    monkeypatch.setenv("LANDLORD_SERVICES_IDENTITY_KEYS_FILE", str(keys))
    with pytest.raises(ServicesConfigError) as raised:
        load_services_settings()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)
    assert "secret-looking-thing" not in str(raised.value)


@pytest.mark.parametrize(
    ("raised", "compensates"),
    [(DisconnectedException(), False), (RuntimeError("bug"), True)],
    ids=["server-went-away", "defect"],
)
async def test_a_lost_connection_is_retried_by_restate_not_compensated(
    raised: Exception, compensates: bool
) -> None:
    """A node dying mid-attempt raises DisconnectedException: the attempt must end as it is
    (Restate replays it), not run compensations whose effects no journal would record."""
    request = parse_request(
        json.dumps(
            {"tenant_id": "acme", "operation": "provision", "compute_provider": "mock"}
        ).encode()
    )
    operation = TenantOperation(
        MagicMock(),
        request,
        backend=MagicMock(),
        config={},
        secrets=RunSecrets(tenant_id="acme", execution="run-1", desired={}),
        timeout=timedelta(minutes=1),
        retry_policy=RetryPolicy(),
        lock_grace=timedelta(seconds=1),
    )
    operation.live.record = AsyncMock()  # type: ignore[method-assign]
    operation.hold.acquire = AsyncMock()  # type: ignore[method-assign]
    operation.live.transition = AsyncMock()  # type: ignore[method-assign]
    operation.operations.provision = AsyncMock(side_effect=raised)  # type: ignore[method-assign]
    operation._end_badly = AsyncMock(return_value=restate.TerminalError("ended", 500))  # type: ignore[method-assign]
    with pytest.raises((DisconnectedException, restate.TerminalError)) as ended:
        await operation.run()
    assert operation._end_badly.await_count == (1 if compensates else 0)
    assert isinstance(ended.value, restate.TerminalError) == compensates


def test_a_served_connection_remembers_a_bounded_number_of_closed_streams(
    tmp_path: Path,
) -> None:
    """Restate keeps one HTTP/2 connection for every invocation: h2's record of its closed
    streams must stop growing long before h2's own cap (65,536)."""
    import h2.config
    import h2.connection

    from services.app import create_app
    from services.serving import CLOSED_STREAMS_REMEMBERED

    create_app(ServicesSettings(state_dir=tmp_path))
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    for stream_id in range(1, 2 * (CLOSED_STREAMS_REMEMBERED + 100), 2):
        client.send_headers(
            stream_id,
            [(":method", "POST"), (":path", "/"), (":scheme", "http"), (":authority", "x")],
            end_stream=True,
        )
        server.receive_data(client.data_to_send())
        server.send_headers(stream_id, [(":status", "200")], end_stream=True)
        client.receive_data(server.data_to_send())
        server.open_inbound_streams  # noqa: B018 - counting streams is when h2 records closed ones
    assert CLOSED_STREAMS_REMEMBERED < 65_536
    assert len(server._closed_streams) <= CLOSED_STREAMS_REMEMBERED
