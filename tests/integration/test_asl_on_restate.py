"""ASL definitions on Restate, against a real restate-server and `services.app` served by
hypercorn: every machine of the corpus ends as it ends in memory (which agrees with moto's
interpreter, see tests/unit/test_asl_corpus.py); Tasks call a real HTTP server and another
Restate service; history is named as Step Functions names it; a revision of the definition
never changes a running execution; stop and timeout keep the provider contract; a crash in
the middle of a Map runs no Task twice.

Replay at every step: a second server registers the services in request-response mode
(HTTP/1.1), where an invocation suspends whenever it waits for Restate (each step's result,
each call, each timer) and is replayed from its journal to go on; the corpus ends the same
there."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from asl import StatesError, run_in_memory
from local_stack import LocalRestateServer
from provider import (
    ExecutionInput,
    ExecutionState,
    ExecutionStatus,
    InvalidSpecError,
    WorkflowSpec,
)
from provider.config import RestateSettings
from provider.restate import RestateProvider
from tests.asl_corpus import CORPUS, Case, machine_of
from tests.servers import AsgiProcess

SERVICES_APP = "services.app:app"
WAIT = timedelta(seconds=30)


class _Calls(BaseHTTPRequestHandler):
    """Answers every POST with what it was sent, counting the calls by path."""

    counts: ClassVar[dict[str, int]] = {}

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self.counts[self.path] = self.counts.get(self.path, 0) + 1
        status = 503 if self.path.startswith("/fail") else 200
        answer = json.dumps({"got": body, "path": self.path}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def http_target() -> Iterator[str]:
    """A real HTTP server for the HTTP tasks to call."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Calls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def services(
    restate_server: LocalRestateServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AsgiProcess]:
    served = AsgiProcess(
        app_ref=SERVICES_APP,
        work_dir=tmp_path_factory.mktemp("services"),
        env={"LANDLORD_SERVICES_STATE_DIR": str(tmp_path_factory.mktemp("tenants"))},
    )
    served.start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def replaying(
    restate_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestateSettings]:
    """A server of its own with the services registered in request-response mode."""
    with LocalRestateServer(
        binary=restate_binary, data_dir=tmp_path_factory.mktemp("replaying"), partitions=1
    ) as server:
        served = AsgiProcess(
            app_ref=SERVICES_APP,
            work_dir=tmp_path_factory.mktemp("replayed-services"),
            env={"LANDLORD_SERVICES_STATE_DIR": str(tmp_path_factory.mktemp("replayed"))},
        )
        served.start()
        try:
            registered = httpx.post(
                f"{server.admin_url}/deployments",
                json={"uri": served.url, "use_http_11": True},
                timeout=30,
                trust_env=False,
            )
            assert registered.status_code in (200, 201), registered.text
            yield RestateSettings(
                endpoint=server.ingress_url,
                admin_endpoint=server.admin_url,
                register_deployment=False,
                register_on_startup=False,
            )
        finally:
            served.stop()


def _outcome(status: ExecutionStatus) -> tuple[str, Any]:
    """How an execution ended, as `_in_memory` says it."""
    if status.state is ExecutionState.SUCCEEDED:
        return "SUCCEEDED", status.output
    assert status.state is ExecutionState.FAILED, status
    assert status.error is not None
    return "FAILED", status.error.code


@pytest.fixture
async def provider(
    restate_server: LocalRestateServer, services: AsgiProcess
) -> AsyncIterator[RestateProvider]:
    opened = RestateProvider(
        RestateSettings(
            endpoint=restate_server.ingress_url,
            admin_endpoint=restate_server.admin_url,
            deployment_uri=services.url,
            register_on_startup=False,
        )
    )
    try:
        yield opened
    finally:
        await opened.aclose()


def _spec(workflow_id: str, definition: dict[str, Any], **extra: Any) -> WorkflowSpec:
    return WorkflowSpec(
        workflow_id=workflow_id,
        provider_type="restate",
        definition=definition,
        timeout=extra.pop("timeout", timedelta(minutes=5)),
        **extra,
    )


async def _run(
    provider: RestateProvider, definition: dict[str, Any], document: Any, *, prefix: str = "asl"
) -> Any:
    workflow_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await provider.create_workflow(_spec(workflow_id, definition))
    started = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="run", input=document)
    )
    return await provider.wait_for_execution(started.execution_id, timeout=WAIT)


def _in_memory(case: Case) -> tuple[str, Any]:
    try:
        return "SUCCEEDED", asyncio.run(run_in_memory(machine_of(case), case.input))
    except StatesError as error:
        return "FAILED", error.error


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
async def test_the_corpus_ends_on_restate_as_in_memory(
    provider: RestateProvider, case: Case
) -> None:
    expected = await asyncio.to_thread(_in_memory, case)
    status = await _run(provider, machine_of(case), case.input)
    assert _outcome(status) == expected


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
async def test_the_corpus_ends_the_same_when_replayed_at_every_step(
    replaying: RestateSettings, case: Case
) -> None:
    expected = await asyncio.to_thread(_in_memory, case)
    provider = RestateProvider(replaying)
    try:
        status = await _run(provider, machine_of(case), case.input, prefix="replayed")
    finally:
        await provider.aclose()
    assert _outcome(status) == expected


def _http(path: str, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": f"{target}{path}", "Method": "POST", "RequestBody.$": "$"},
        **extra,
    }


async def test_an_http_task_in_a_map_runs_once_per_item(
    provider: RestateProvider, http_target: str
) -> None:
    path = f"/item-{uuid.uuid4().hex[:6]}"
    machine = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "MaxConcurrency": 2,
                "ItemProcessor": {
                    "StartAt": "Call",
                    "States": {
                        "Call": _http(
                            path,
                            http_target,
                            ResultSelector={"got.$": "$.ResponseBody.got"},
                            End=True,
                        )
                    },
                },
                "End": True,
            }
        },
    }
    status = await _run(provider, machine, [1, 2, 3])
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == [{"got": 1}, {"got": 2}, {"got": 3}]
    assert _Calls.counts[path] == 3
    types = [event.type for event in status.history]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert types.count("MapIterationSucceeded") == 3
    assert "MapStateEntered" in types
    assert "MapStateExited" in types


async def test_a_failing_http_task_is_retried_then_caught(
    provider: RestateProvider, http_target: str
) -> None:
    path = f"/fail-{uuid.uuid4().hex[:6]}"
    machine = {
        "StartAt": "Call",
        "States": {
            "Call": _http(
                path,
                http_target,
                Retry=[
                    {
                        "ErrorEquals": ["States.Http.StatusCode.503"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 2,
                        "BackoffRate": 1,
                    }
                ],
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Gave up"}],
                End=True,
            ),
            "Gave up": {"Type": "Pass", "End": True},
        },
    }
    status = await _run(provider, machine, {"n": 1})
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output["error"]["Error"] == "States.Http.StatusCode.503"
    assert _Calls.counts[path] == 3
    types = [event.type for event in status.history]
    assert types.count("TaskFailed") == 3
    assert types.count("RetryScheduled") == 2
    assert "CatchTaken" in types


async def test_an_uncaught_task_error_fails_the_execution_with_its_name(
    provider: RestateProvider, http_target: str
) -> None:
    path = f"/fail-{uuid.uuid4().hex[:6]}"
    machine = {"StartAt": "Call", "States": {"Call": _http(path, http_target, End=True)}}
    status = await _run(provider, machine, {})
    assert status.state is ExecutionState.FAILED
    assert status.error is not None
    assert status.error.code == "States.Http.StatusCode.503"
    assert "503" in status.error.message


async def test_a_restate_task_calls_another_service(provider: RestateProvider) -> None:
    machine = {
        "StartAt": "Inner",
        "States": {
            "Inner": {
                "Type": "Task",
                "Resource": "restate:StateMachineBranch/run",
                "Parameters": {
                    "definition": {
                        "StartAt": "P",
                        "States": {"P": {"Type": "Pass", "Result": "inner", "End": True}},
                    },
                    "execution": {"name": "x", "start_time": "2026-01-01T00:00:00.000Z"},
                },
                "End": True,
            }
        },
    }
    status = await _run(provider, machine, {})
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == "inner"


async def test_the_definition_is_bound_at_start(provider: RestateProvider) -> None:
    workflow_id = f"asl-bound-{uuid.uuid4().hex[:6]}"
    waits = {
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": 2, "Next": "Say"},
            "Say": {"Type": "Pass", "Result": "first", "End": True},
        },
    }
    await provider.create_workflow(_spec(workflow_id, waits))
    started = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="a", input={})
    )
    revised = json.loads(json.dumps(waits))
    revised["States"]["Say"]["Result"] = "second"
    await provider.create_workflow(_spec(workflow_id, revised))
    status = await provider.wait_for_execution(started.execution_id, timeout=WAIT)
    assert status.output == "first"
    later = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="b", input={})
    )
    assert (await provider.wait_for_execution(later.execution_id, timeout=WAIT)).output == "second"
    listed = await provider.list_executions(workflow_id)
    assert {s.metadata["execution_name"] for s in listed} == {"a", "b"}
    assert all(s.workflow_id == workflow_id for s in listed)


async def test_stop_cancels_a_waiting_machine(provider: RestateProvider) -> None:
    workflow_id = f"asl-stop-{uuid.uuid4().hex[:6]}"
    machine = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    await provider.create_workflow(_spec(workflow_id, machine))
    started = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="s", input={"a": 1})
    )
    await provider.stop_execution(started.execution_id, "test")
    await provider.stop_execution(started.execution_id, "again")
    status = await provider.wait_for_execution(started.execution_id, timeout=WAIT)
    assert status.state is ExecutionState.CANCELLED
    assert status.input == {"a": 1}
    assert status.history[0].type == "ExecutionStarted"
    assert status.history[-1].type == "WaitStateEntered"


async def test_the_machine_timeout_times_the_execution_out(provider: RestateProvider) -> None:
    workflow_id = f"asl-timeout-{uuid.uuid4().hex[:6]}"
    machine = {
        "TimeoutSeconds": 1,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    await provider.create_workflow(_spec(workflow_id, machine))
    started = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="t", input={})
    )
    status = await provider.wait_for_execution(started.execution_id, timeout=WAIT)
    assert status.state is ExecutionState.TIMED_OUT


async def test_a_definition_that_breaks_the_specification_is_refused(
    provider: RestateProvider,
) -> None:
    machine = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Next": "B"},
            "B": {"Type": "Pass", "End": True},
            "Lost": {"Type": "Pass", "End": True},
        },
    }
    with pytest.raises(InvalidSpecError) as refused:
        await provider.create_workflow(_spec("asl-refused", machine))
    fields = {problem.field for problem in refused.value.problems}
    assert fields == {"definition.States.A.Resource", "definition.States.Lost"}


async def test_a_crash_in_the_middle_of_a_map_runs_no_task_twice(
    provider: RestateProvider, services: AsgiProcess, http_target: str
) -> None:
    """kill -9 of the services between two of a Map's Tasks (each item: a call, then a
    durable wait): after a restart the execution ends, and each item was called once."""
    prefix = f"/crash-{uuid.uuid4().hex[:6]}"
    machine = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "MaxConcurrency": 1,
                "ItemSelector": {"path.$": f"States.Format('{prefix}-{{}}', $$.Map.Item.Value)"},
                "ItemProcessor": {
                    "StartAt": "Call",
                    "States": {
                        "Call": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::http:invoke",
                            "Parameters": {
                                "ApiEndpoint.$": f"States.Format('{http_target}{{}}', $.path)",
                                "Method": "POST",
                            },
                            "ResultSelector": {"path.$": "$.ResponseBody.path"},
                            "Next": "Rest",
                        },
                        "Rest": {"Type": "Wait", "Seconds": 1, "End": True},
                    },
                },
                "End": True,
            }
        },
    }
    workflow_id = f"asl-crash-{uuid.uuid4().hex[:6]}"
    await provider.create_workflow(_spec(workflow_id, machine))
    started = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="c", input=[1, 2, 3, 4])
    )
    deadline = asyncio.get_running_loop().time() + WAIT.total_seconds()
    while _Calls.counts.get(f"{prefix}-2", 0) == 0:
        assert asyncio.get_running_loop().time() < deadline, "the second item was never called"
        await asyncio.sleep(0.02)
    services.kill()
    services.start()
    status = await provider.wait_for_execution(started.execution_id, timeout=WAIT)
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == [{"path": f"{prefix}-{n}"} for n in (1, 2, 3, 4)]
    assert {p: c for p, c in _Calls.counts.items() if p.startswith(prefix)} == {
        f"{prefix}-{n}": 1 for n in (1, 2, 3, 4)
    }
