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
import uuid
from datetime import timedelta
from typing import Any

import pytest

from asl import StatesError, run_in_memory
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
from tests.integration.polling import until
from tests.servers import AsgiProcess

from .target import HttpTarget

WAIT = timedelta(seconds=30)


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


def _outcome(status: ExecutionStatus) -> tuple[str, Any]:
    """How an execution ended, as `_in_memory` says it."""
    if status.state is ExecutionState.SUCCEEDED:
        return "SUCCEEDED", status.output
    assert status.state is ExecutionState.FAILED, status
    assert status.error is not None
    return "FAILED", status.error.code


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
    provider: RestateProvider, http_target: HttpTarget
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
                            http_target.url,
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
    assert http_target.counts(path) == {path: 3}
    types = [event.type for event in status.history]
    assert types[0] == "ExecutionStarted"
    assert types[-1] == "ExecutionSucceeded"
    assert types.count("MapIterationSucceeded") == 3
    assert "MapStateEntered" in types
    assert "MapStateExited" in types


async def test_a_failing_http_task_is_retried_then_caught(
    provider: RestateProvider, http_target: HttpTarget
) -> None:
    path = f"/fail-{uuid.uuid4().hex[:6]}"
    machine = {
        "StartAt": "Call",
        "States": {
            "Call": _http(
                path,
                http_target.url,
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
    assert http_target.counts(path) == {path: 3}
    types = [event.type for event in status.history]
    assert types.count("TaskFailed") == 3
    assert types.count("RetryScheduled") == 2
    assert "CatchTaken" in types


async def test_an_uncaught_task_error_fails_the_execution_with_its_name(
    provider: RestateProvider, http_target: HttpTarget
) -> None:
    path = f"/fail-{uuid.uuid4().hex[:6]}"
    machine = {"StartAt": "Call", "States": {"Call": _http(path, http_target.url, End=True)}}
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
    assert {s.execution_name for s in listed} == {"a", "b"}
    assert all(s.workflow_id == workflow_id for s in listed)


async def _waiting_machine(provider: RestateProvider) -> str:
    """Start a machine that waits an hour on input {"a": 1}: its execution id."""
    workflow_id = f"asl-stop-{uuid.uuid4().hex[:6]}"
    machine = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    await provider.create_workflow(_spec(workflow_id, machine))
    started = await provider.start_execution(
        workflow_id, ExecutionInput(execution_name="s", input={"a": 1})
    )
    return started.execution_id


async def test_stop_cancels_a_machine_stopped_at_once(provider: RestateProvider) -> None:
    execution_id = await _waiting_machine(provider)
    await provider.stop_execution(execution_id, "test")
    status = await provider.wait_for_execution(execution_id, timeout=WAIT)
    assert status.state is ExecutionState.CANCELLED
    assert status.input == {"a": 1}
    assert status.history[-1].type == "ExecutionAborted"
    assert status.history[-1].timestamp == status.stop_time


async def test_stop_cancels_a_waiting_machine(provider: RestateProvider) -> None:
    execution_id = await _waiting_machine(provider)
    await until(
        provider,
        execution_id,
        lambda status: bool(status.history) and status.history[-1].type == "WaitStateEntered",
        "waiting",
    )
    await provider.stop_execution(execution_id, "test")
    await provider.stop_execution(execution_id, "again")
    status = await provider.wait_for_execution(execution_id, timeout=WAIT)
    assert status.state is ExecutionState.CANCELLED
    assert status.input == {"a": 1}
    assert [event.type for event in status.history] == [
        "ExecutionStarted",
        "WaitStateEntered",
        "ExecutionAborted",
    ]
    assert status.history[-1].details["state"] == "W"
    assert (await provider.get_execution_status(execution_id)).history == status.history


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
    assert [event.type for event in status.history][-2:] == [
        "WaitStateEntered",
        "ExecutionTimedOut",
    ]
    assert "timed out after" in str(status.history[-1].details["cause"])


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
    provider: RestateProvider, services: AsgiProcess, http_target: HttpTarget
) -> None:
    """kill -9 of the services in the middle of a Map (one item at a time, each a call, then
    a durable wait), as the third item's call arrives: after a restart the execution ends; the
    items that ended before the kill were not called again; the call in flight at the kill
    may be made again, as its result was not journaled yet (at least once, never lost)."""
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
                                "ApiEndpoint.$": f"States.Format('{http_target.url}{{}}', $.path)",
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
    in_flight = f"{prefix}-3"
    while not http_target.counts(in_flight):
        assert asyncio.get_running_loop().time() < deadline, "the third item was never called"
        await asyncio.sleep(0.02)
    services.kill()
    services.start()
    status = await provider.wait_for_execution(started.execution_id, timeout=WAIT)
    assert status.state is ExecutionState.SUCCEEDED, status.error
    assert status.output == [{"path": f"{prefix}-{n}"} for n in (1, 2, 3, 4)]
    called = http_target.counts(prefix)
    assert called.pop(in_flight) in (1, 2)
    assert called == {f"{prefix}-{n}": 1 for n in (1, 2, 4)}


async def test_health_lists_every_asl_workflow_though_they_share_one_service(
    provider: RestateProvider,
) -> None:
    names = [f"asl-health-{n}-{uuid.uuid4().hex[:6]}" for n in (1, 2)]
    for workflow_id in names:
        await provider.create_workflow(_spec(workflow_id, machine_of(CORPUS[0])))
    health = await provider.health()
    server = {c.name: c.ok for c in health.checks if not c.name.startswith("deployment ")}
    assert server == {"admin API": True, "ingress": True, "server version": True}, health
    assert {name: health.workflows.get(name) for name in names} == dict.fromkeys(names, True)
