"""RestateHttp and RestateProvider over httpx.MockTransport: the answers a real server will not
give on demand (429, 503, dropped connections, 401/403), credentials on every request, no I/O
before the first call, hostile ids that never reach a URL or SQL, and the state mapping."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stamina
from pydantic import SecretStr

from provider import (
    AuthenticationError,
    ExecutionInput,
    ExecutionNotFoundError,
    ExecutionState,
    InvalidSpecError,
    ProviderUnavailableError,
    WorkflowNotFoundError,
    WorkflowSpec,
)
from provider.config import RestateSettings
from provider.restate import RestateProvider
from provider.restate.admin import restate_message, sql_string
from provider.restate.http import RestateHttp
from provider.restate.mapping import completion_error, state_of

INGRESS = "http://ingress.restate.test:8080"
ADMIN = "http://admin.restate.test:9070"
API_KEY = "key_s3cr3t-0123456789abcdef"
INVOCATION = "inv_1dceKvwtEc2n1MMS4syjeuGRwjfO6JTL4I"
WORKFLOW = "tenant-provisioning"

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """Retries keep their configured count but do not wait (stamina's test mode)."""
    with stamina.set_testing(True, attempts=1_000, cap=True):
        yield


class Recorder:
    """A MockTransport that records every request and answers with `handler`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


def answer(status: int, body: Any = None) -> Handler:
    """A handler that always answers `status` (with a JSON body when given)."""
    return lambda request: httpx.Response(status, json=body)


def raising(error: type[httpx.TransportError]) -> Handler:
    """A handler whose connection always fails with `error`."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error("connection dropped", request=request)

    return handler


def http(recorder: Recorder, *, attempts: int = 3, api_key: str | None = None) -> RestateHttp:
    return RestateHttp(
        ADMIN,
        api_key=SecretStr(api_key) if api_key is not None else None,
        retry_attempts=attempts,
        transport=recorder.transport,
    )


def settings(**overrides: Any) -> RestateSettings:
    values: dict[str, Any] = {
        "endpoint": INGRESS,
        "admin_endpoint": ADMIN,
        "deployment_uri": "http://services.restate.test:9080",
        "register_on_startup": False,
        "retry_attempts": 2,
    }
    return RestateSettings(**(values | overrides))


def api_key_settings(**overrides: Any) -> RestateSettings:
    return settings(
        execution_mechanism="self-hosted", auth_type="api_key", api_key=API_KEY, **overrides
    )


def provider_over(recorder: Recorder, config: RestateSettings | None = None) -> RestateProvider:
    return RestateProvider(
        config or settings(),
        ingress_transport=recorder.transport,
        admin_transport=recorder.transport,
    )


# -- retries -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503])
@pytest.mark.parametrize("attempts", [0, 1, 3])
async def test_throttled_or_unavailable_is_retried_then_unavailable(
    status: int, attempts: int
) -> None:
    """429/5xx are retried retry_attempts times, then unavailable naming the endpoint."""
    recorder = Recorder(answer(status))
    client = http(recorder, attempts=attempts)
    with pytest.raises(ProviderUnavailableError) as raised:
        await client.request("GET", "/services")
    assert len(recorder.requests) == attempts + 1
    assert raised.value.endpoint == ADMIN
    assert ADMIN in str(raised.value)
    assert str(status) in str(raised.value)
    await client.aclose()


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError])
async def test_dropped_connection_is_retried_then_unavailable(
    error: type[httpx.TransportError],
) -> None:
    """A dropped connection is retried, then unavailable naming the endpoint and the failure."""
    recorder = Recorder(raising(error))
    client = http(recorder, attempts=2)
    with pytest.raises(ProviderUnavailableError) as raised:
        await client.request("POST", "/query", json={"query": "SELECT 1"})
    assert len(recorder.requests) == 3
    assert raised.value.endpoint == ADMIN
    assert error.__name__ in str(raised.value)
    await client.aclose()


async def test_transient_failure_then_success_returns_the_answer() -> None:
    """A 503 followed by a 200 is retried once and the 200 is returned."""
    answers = iter([httpx.Response(503), httpx.Response(200, json={"ok": True})])
    recorder = Recorder(lambda request: next(answers))
    client = http(recorder, attempts=3)
    response = await client.request("GET", "/health")
    assert response.status_code == 200
    assert len(recorder.requests) == 2
    await client.aclose()


@pytest.mark.parametrize("status", [400, 404, 409, 410, 422, 470])
async def test_client_errors_are_never_retried(status: int) -> None:
    """A 4xx (other than 401/403/429) is returned as it is after exactly one request."""
    recorder = Recorder(answer(status, {"message": "nope"}))
    client = http(recorder, attempts=5)
    response = await client.request("PATCH", f"/invocations/{INVOCATION}/cancel")
    assert response.status_code == status
    assert len(recorder.requests) == 1
    await client.aclose()


async def test_server_errors_are_not_retried_when_told_so() -> None:
    """`retry_server_errors=False` (deployment registration) returns a 500 after one request."""
    recorder = Recorder(answer(500, {"message": "META0003"}))
    client = http(recorder, attempts=5)
    response = await client.request("POST", "/deployments", retry_server_errors=False)
    assert response.status_code == 500
    assert len(recorder.requests) == 1
    await client.aclose()


# -- credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_raise_authentication_error_without_the_key(status: int) -> None:
    """401/403 become AuthenticationError naming the endpoint, never retried, key not shown."""
    recorder = Recorder(answer(status, {"message": "bad key"}))
    client = http(recorder, attempts=3, api_key=API_KEY)
    with pytest.raises(AuthenticationError) as raised:
        await client.request("GET", "/services")
    assert len(recorder.requests) == 1
    assert raised.value.endpoint == ADMIN
    assert ADMIN in str(raised.value)
    assert API_KEY not in str(raised.value)
    assert API_KEY not in repr(raised.value)
    assert raised.value.__cause__ is None
    await client.aclose()


@pytest.mark.parametrize("status", [401, 403])
async def test_provider_reports_refused_credentials_without_the_key(status: int) -> None:
    """Through the provider, a refused key surfaces as AuthenticationError without the key."""
    recorder = Recorder(answer(status))
    provider = provider_over(recorder, api_key_settings())
    with pytest.raises(AuthenticationError) as raised:
        await provider.start_execution(WORKFLOW, ExecutionInput(execution_name="run-1"))
    with pytest.raises(AuthenticationError) as from_admin:
        await provider.get_execution_status(INVOCATION)
    for error in (raised.value, from_admin.value):
        assert API_KEY not in str(error)
        assert API_KEY not in repr(error)
    assert raised.value.endpoint == ADMIN  # the stored definition is read there first
    assert from_admin.value.endpoint == ADMIN
    await provider.aclose()


async def test_unavailable_error_never_carries_the_key() -> None:
    """A dropped connection with an API key configured does not echo the key either."""
    recorder = Recorder(raising(httpx.ConnectError))
    client = http(recorder, attempts=1, api_key=API_KEY)
    with pytest.raises(ProviderUnavailableError) as raised:
        await client.request("GET", "/health")
    assert API_KEY not in str(raised.value)
    assert API_KEY not in repr(raised.value)
    await client.aclose()


class FakeRestate:
    """Just enough of Restate's admin API and ingress for every provider operation."""

    def __init__(self) -> None:
        self.stored: dict[str, Any] | None = None
        self.recorder = Recorder(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        service = {
            "name": "TenantProvisioning",
            "ty": "Workflow",
            "handlers": [{"name": "run"}],
            "public": True,
            "revision": 1,
        }
        if request.url.host == "admin.restate.test":
            if path == "/deployments":
                return httpx.Response(201, json={"id": "dp_1", "services": [service]})
            if path == "/services":
                return httpx.Response(200, json={"services": [service]})
            if path == "/services/WorkflowDefinitions/state":
                written = json.loads(request.content)["new_state"].get("definition")
                self.stored = json.loads(bytes(written)) if written else None
                return httpx.Response(202)
            if path.startswith("/services/"):
                return httpx.Response(200, json=service)
            if path == "/query":
                return httpx.Response(200, json={"rows": self.rows(json.loads(request.content))})
            if path.endswith("/cancel"):
                return httpx.Response(202)
            if path == "/health":
                return httpx.Response(200)
        elif path.startswith("/restate/send/"):
            return httpx.Response(202, json={"invocationId": INVOCATION, "status": "Accepted"})
        return httpx.Response(404, json={"message": f"no fake for {method} {path}"})

    def rows(self, body: dict[str, str]) -> list[dict[str, Any]]:
        if "service_name = 'WorkflowDefinitions'" in body["query"] and self.stored:
            return [
                {
                    "service_key": WORKFLOW,
                    "key": "definition",
                    "value_utf8": json.dumps(self.stored),
                }
            ]
        if "FROM sys_invocation" not in body["query"]:
            return []
        return [
            {
                "id": INVOCATION,
                "target_service_name": "TenantProvisioning",
                "target_service_key": "run-1",
                "target_handler_name": "run",
                "status": "running",
                "created_at": "2026-01-01T00:00:00.000Z",
            }
        ]


async def exercise(provider: RestateProvider) -> None:
    """Every provider operation once (create, validate, start, status, list, stop, delete)."""
    spec = WorkflowSpec(workflow_id=WORKFLOW, definition={"service": "TenantProvisioning"})
    await provider.create_workflow(spec)
    await provider.validate(spec)
    started = await provider.start_execution(
        WORKFLOW, ExecutionInput(execution_name="run-1", input={"tenant_id": "acme"})
    )
    assert started.execution_id == INVOCATION
    assert (await provider.get_execution_status(INVOCATION)).state is ExecutionState.RUNNING
    assert len(await provider.list_executions(WORKFLOW)) == 1
    await provider.stop_execution(INVOCATION, "test")
    assert (await provider.health()).checks[0].ok is True
    await provider.delete_workflow(WORKFLOW)


async def test_api_key_is_sent_on_every_admin_and_ingress_request() -> None:
    """With auth_type api_key, each request to either endpoint carries the bearer key."""
    fake = FakeRestate()
    provider = provider_over(fake.recorder, api_key_settings())
    await exercise(provider)
    hosts = {request.url.host for request in fake.recorder.requests}
    assert hosts == {"admin.restate.test", "ingress.restate.test"}
    assert all(
        request.headers.get("authorization") == f"Bearer {API_KEY}"
        for request in fake.recorder.requests
    ), [(r.method, r.url.path) for r in fake.recorder.requests]
    await provider.aclose()


async def test_no_authorization_header_without_api_key_auth() -> None:
    """With auth_type none, no request carries an Authorization header."""
    fake = FakeRestate()
    provider = provider_over(fake.recorder)
    await exercise(provider)
    assert len(fake.recorder.requests) > 10
    assert not any("authorization" in request.headers for request in fake.recorder.requests)
    await provider.aclose()


# -- no I/O until used ------------------------------------------------------------------------


async def test_construction_does_no_io_and_first_call_names_the_endpoint() -> None:
    """Construction sends nothing; the first call is unavailable naming the endpoint tried."""
    recorder = Recorder(raising(httpx.ConnectError))
    provider = provider_over(recorder)
    assert recorder.requests == []
    with pytest.raises(ProviderUnavailableError) as raised:
        await provider.start_execution(WORKFLOW, ExecutionInput(execution_name="run-1"))
    assert raised.value.endpoint == ADMIN  # the stored definition is read first
    assert ADMIN in str(raised.value)
    assert len(recorder.requests) == 3  # retry_attempts=2
    with pytest.raises(ProviderUnavailableError) as from_admin:
        await provider.get_execution_status(INVOCATION)
    assert from_admin.value.endpoint == ADMIN
    await provider.aclose()


async def test_start_without_register_on_startup_sends_nothing() -> None:
    """`start()` with register_on_startup false makes no request."""
    recorder = Recorder(raising(httpx.ConnectError))
    provider = provider_over(recorder)
    await provider.start()
    await provider.aclose()
    assert recorder.requests == []


# -- hostile ids -----------------------------------------------------------------------------

HOSTILE_EXECUTION_IDS = [
    "inv_x' OR '1'='1",
    "inv_1dceKvwtEc2n1MMS4syjeuGRwjfO6JTL4I' OR '1'='1",
    "../../deployments",
    "inv_%2F..",
    "inv_1dceKvwtEc2n1MMS4syjeuGRwjfO6JTL4I/../../deployments",
    "inv_" + "a" * 65,
    "inv_" + "a" * 10_000,
    "",
    "inv_1dceKvwtEc2n1MMS4 syjeuGRwjfO6JTL4I",
    "inv_1dceKvwtEc2n1MMS4syjeuGRwjfO6JTL4I\n",
    "inv_1dceKvwtEc2n1MMS4syjeuGRwjfO6JTL4I\nDROP",
    "inv_short",
    "INV_1dceKvwtEc2n1MMS4syjeuGRwjfO6JTL4I",
]


@pytest.mark.parametrize("execution_id", HOSTILE_EXECUTION_IDS)
async def test_hostile_execution_ids_are_not_found_without_a_request(execution_id: str) -> None:
    """Non-invocation ids are not found for status and stop, and never reach a URL or SQL."""
    recorder = Recorder(answer(200, {"rows": []}))
    provider = provider_over(recorder)
    with pytest.raises(ExecutionNotFoundError) as raised:
        await provider.get_execution_status(execution_id)
    assert raised.value.execution_id == execution_id
    with pytest.raises(ExecutionNotFoundError):
        await provider.stop_execution(execution_id, "test")
    assert recorder.requests == []
    await provider.aclose()


@pytest.mark.parametrize(
    "execution_id",
    [
        "inv_" + "a" * 30,  # bad length
        "inv_1lYGhA16ahyg0000000000000000000000",  # partition key past 2**64
        "inv_1000000000007N42dgm5tFLK9N8MT7fHC8",  # uuid past 2**128
        "inv_2" + "a" * 33,  # unknown codec version
    ],
)
async def test_undecodable_ids_are_not_found_without_a_request(execution_id: str) -> None:
    """An id shaped like an invocation id that Restate could not decode is refused before I/O."""
    recorder = Recorder(answer(200, {"rows": []}))
    provider = provider_over(recorder)
    with pytest.raises(ExecutionNotFoundError):
        await provider.get_execution_status(execution_id)
    assert recorder.requests == []
    await provider.aclose()


HOSTILE_WORKFLOW_IDS = [
    "tenant' OR '1'='1",
    "../../deployments",
    "tenant%2F..",
    "a" * 129,
    "",
    "tenant provisioning",
    "tenant\nprovisioning",
    "tenant-provisioning\n",
    "Tenant-Provisioning",
]


@pytest.mark.parametrize("workflow_id", HOSTILE_WORKFLOW_IDS)
async def test_hostile_workflow_ids_are_invalid_without_a_request(workflow_id: str) -> None:
    """Bad workflow ids are InvalidSpecError (workflow_id) for start/list/delete, no request."""
    recorder = Recorder(answer(200, None))
    provider = provider_over(recorder)
    calls = [
        provider.start_execution(workflow_id, ExecutionInput(execution_name="run-1")),
        provider.list_executions(workflow_id),
        provider.delete_workflow(workflow_id),
    ]
    for call in calls:
        with pytest.raises(InvalidSpecError) as raised:
            await call
        assert [problem.field for problem in raised.value.problems] == ["workflow_id"]
    assert recorder.requests == []
    await provider.aclose()


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"service": "Tenant/../deployments"}, "definition.service"),
        ({"service": "Tenant' OR '1'='1"}, "definition.service"),
        ({"service": "TenantProvisioning", "handler": "run/../../x"}, "definition.handler"),
        ({"service": "TenantProvisioning", "deployment": {"uri": "file:///etc"}}, "definition"),
    ],
)
async def test_hostile_definitions_are_invalid_without_a_request(
    definition: dict[str, Any], field: str
) -> None:
    """A service, handler or deployment that could reach a path is refused before any I/O."""
    recorder = Recorder(answer(200, None))
    provider = provider_over(recorder)
    spec = WorkflowSpec(workflow_id=WORKFLOW, definition=definition)
    for call in (provider.create_workflow(spec), provider.validate(spec)):
        with pytest.raises(InvalidSpecError) as raised:
            await call
        assert all(problem.field.startswith(field) for problem in raised.value.problems)
    assert recorder.requests == []
    await provider.aclose()


async def test_unknown_workflow_is_not_found_after_one_lookup() -> None:
    """An unstored workflow is WorkflowNotFoundError after one definitions lookup (and a check
    that the definitions store is registered at all)."""
    recorder = Recorder(answer(200, {"rows": []}))
    provider = provider_over(recorder)
    with pytest.raises(WorkflowNotFoundError):
        await provider.start_execution(WORKFLOW, ExecutionInput(execution_name="run-1"))
    assert [r.url.path for r in recorder.requests] == ["/query", "/services/WorkflowDefinitions"]
    assert all(r.url.host == "admin.restate.test" for r in recorder.requests)
    await provider.aclose()


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("inv_abc", "'inv_abc'"),
        ("it's", "'it''s'"),
        ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
        ("''", "''''''"),
        ("", "''"),
        ('say "hi"', "'say \"hi\"'"),
    ],
)
def test_sql_string_doubles_quotes(value: str, literal: str) -> None:
    """sql_string quotes a value as one SQL literal, doubling embedded single quotes."""
    assert sql_string(value) == literal


# -- the state mapping ---------------------------------------------------------------------

COMPLETED_AT = "2026-01-02T03:04:05.678Z"
FAILED_AT = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def completed(result: str, failure: str | None = None) -> dict[str, Any]:
    row = {"status": "completed", "completion_result": result, "completed_at": COMPLETED_AT}
    return row | ({"completion_failure": failure} if failure is not None else {})


@pytest.mark.parametrize(
    ("row", "state", "sub_state"),
    [
        ({"status": "pending"}, ExecutionState.PENDING, "pending"),
        ({"status": "scheduled"}, ExecutionState.PENDING, "scheduled"),
        ({"status": "ready"}, ExecutionState.PENDING, "ready"),
        ({"status": "inboxed"}, ExecutionState.PENDING, "pending"),
        ({"status": "running"}, ExecutionState.RUNNING, "running"),
        ({"status": "backing-off", "retry_count": 3}, ExecutionState.RUNNING, "backing-off"),
        ({"status": "suspended"}, ExecutionState.RUNNING, "waiting"),
        ({"status": "paused"}, ExecutionState.RUNNING, "error"),
        (completed("success"), ExecutionState.SUCCEEDED, "succeeded"),
        (completed("failure", "[409] cancelled"), ExecutionState.CANCELLED, "failed"),
        (completed("failure", "[409] killed"), ExecutionState.CANCELLED, "failed"),
        (
            completed("failure", "[409] cancelled during provision local"),
            ExecutionState.CANCELLED,
            "failed",
        ),
        (completed("failure", "[408] timed out after 0:00:01"), ExecutionState.TIMED_OUT, "failed"),
        (completed("failure", "[500] boom"), ExecutionState.FAILED, "failed"),
        (completed("failure", "[422] tenant rejected"), ExecutionState.FAILED, "failed"),
        (completed("failure", "[400] request is not JSON"), ExecutionState.FAILED, "failed"),
        (completed("failure", "something broke"), ExecutionState.FAILED, "failed"),
        (completed("failure", "409 without brackets"), ExecutionState.FAILED, "failed"),
        (completed("failure"), ExecutionState.FAILED, "failed"),
    ],
)
def test_state_of_every_status(row: dict[str, Any], state: ExecutionState, sub_state: str) -> None:
    """Each sys_invocation status (and completion) maps to one landlord state and sub-state."""
    assert state_of(row) == (state, sub_state)


@pytest.mark.parametrize(
    ("row", "code", "message"),
    [
        (completed("failure", "[409] cancelled"), "409", "cancelled"),
        (completed("failure", "[409] killed"), "409", "killed"),
        (completed("failure", "[408] timed out after 0:00:01"), "408", "timed out after 0:00:01"),
        (completed("failure", "[500] boom"), "500", "boom"),
        (completed("failure", "[422] tenant rejected"), "422", "tenant rejected"),
        (completed("failure", "[422] line one\nline two"), "422", "line one\nline two"),
        (completed("failure", "something broke"), "500", "something broke"),
        (completed("failure"), "500", ""),
    ],
)
def test_completion_error_of_a_failure(row: dict[str, Any], code: str, message: str) -> None:
    """A failed completion yields its code (500 if none), message and completion time."""
    error = completion_error(row)
    assert error is not None
    assert (error.code, error.message, error.failed_at) == (code, message, FAILED_AT)


@pytest.mark.parametrize(
    "row",
    [
        completed("success"),
        *(
            {"status": status, "completion_failure": "[500] stale"}
            for status in ("pending", "scheduled", "running", "backing-off", "suspended", "paused")
        ),
    ],
)
def test_no_completion_error_unless_failed(row: dict[str, Any]) -> None:
    """Only a completed failure has an error (a live row's stale failure text is ignored)."""
    assert completion_error(row) is None


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(500, json={"message": "[META0003] [META0003] error when calling x"}),
            "[META0003] error when calling x",
        ),
        (
            httpx.Response(409, json={"message": "[META0006] breaking change"}),
            "[META0006] breaking change",
        ),
        (httpx.Response(502, text="bad gateway"), "bad gateway"),
        (httpx.Response(500, json=["not", "an", "object"]), '["not","an","object"]'),
    ],
)
def test_restate_message_is_restates_own_words_once(
    response: httpx.Response, expected: str
) -> None:
    assert restate_message(response) == expected


# -- waiting (attach) ------------------------------------------------------------------------


def _raising(error: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("no answer", request=request)

    return handler


async def test_a_wait_that_hears_nothing_in_time_is_none_and_not_retried() -> None:
    recorder = Recorder(_raising(httpx.ReadTimeout))
    http = RestateHttp(INGRESS, transport=recorder.transport)
    assert await http.wait(f"/restate/invocation/{INVOCATION}/attach", 0.5) is None
    assert len(recorder.requests) == 1


async def test_a_wait_that_is_answered_returns_the_answer() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"done": True}))
    http = RestateHttp(INGRESS, transport=recorder.transport)
    response = await http.wait(f"/restate/invocation/{INVOCATION}/attach", 5)
    assert response is not None
    assert response.json() == {"done": True}


async def test_a_wait_on_an_unreachable_server_says_so() -> None:
    recorder = Recorder(_raising(httpx.ConnectError))
    http = RestateHttp(INGRESS, transport=recorder.transport)
    with pytest.raises(ProviderUnavailableError, match="ConnectError"):
        await http.wait(f"/restate/invocation/{INVOCATION}/attach", 5)
    assert len(recorder.requests) == 1


async def test_a_wait_refused_for_credentials_is_an_authentication_error() -> None:
    recorder = Recorder(lambda request: httpx.Response(401))
    http = RestateHttp(INGRESS, api_key=SecretStr(API_KEY), transport=recorder.transport)
    with pytest.raises(AuthenticationError) as raised:
        await http.wait(f"/restate/invocation/{INVOCATION}/attach", 5)
    assert API_KEY not in str(raised.value)
