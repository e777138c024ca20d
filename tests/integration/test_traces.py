"""One trace from `Manager.start_execution` through the services' steps: the services are served
in this process (hypercorn in a thread) so that one in-memory span exporter sees both sides,
and both sides' JSON log lines carry that trace's id and the same execution id."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from http.server import ThreadingHTTPServer
from typing import Any

import hypercorn.asyncio
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from local_stack import LocalRestateServer, free_port
from provider import ExecutionInput, ExecutionState, Manager, Registry, WorkflowSpec
from provider.config import RestateSettings
from provider.restate import RestateProvider, register_tenant_workflow
from services.logs import drop_during_replay
from services.serving import hypercorn_config
from telemetry import configure_logging
from tests.integration.asl.target import Target

TENANT_WORKFLOW = "tenant-provisioning"


class ServicesThread:
    """`services.app:app` under hypercorn on a loop of its own, in a thread of this process."""

    def __init__(self) -> None:
        from services.app import app  # configures logging: before the test configures its own

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        config = hypercorn_config(bind=f"127.0.0.1:{self.port}")
        config.graceful_timeout = 0.5
        self._loop.run_until_complete(
            hypercorn.asyncio.serve(self.app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
        )

    def __enter__(self) -> ServicesThread:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span this process ends, from the Manager and from the services alike."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    exporter.clear()


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


@pytest.fixture(scope="module")
def services() -> Iterator[ServicesThread]:
    with ServicesThread() as serving:
        yield serving


@contextlib.asynccontextmanager
async def _manager(server: LocalRestateServer, services: ServicesThread) -> AsyncIterator[Manager]:
    """A Manager over a `RestateProvider` for `server`, the tenant workflow registered."""
    settings = RestateSettings(
        endpoint=server.ingress_url,
        admin_endpoint=server.admin_url,
        deployment_uri=services.url,
        register_on_startup=False,
    )
    provider = RestateProvider(settings)
    registry = Registry()
    registry.register(provider)
    manager = Manager(registry, default_provider="restate")
    try:
        await register_tenant_workflow(provider, wait=timedelta(seconds=30))
        yield manager
    finally:
        await manager.aclose()


async def _run(manager: Manager, workflow_id: str, name: str, document: Any) -> tuple[str, Any]:
    started = await manager.start_execution(
        workflow_id, ExecutionInput(execution_name=name, input=document)
    )
    status = await manager.wait_for_execution(started.execution_id, timeout=timedelta(seconds=60))
    assert status.state is ExecutionState.SUCCEEDED, status
    return started.execution_id, status


def _run_spans(
    finished: list[ReadableSpan], run_name: str, execution_id: str
) -> tuple[int, list[ReadableSpan]]:
    """The start's trace id and the step spans under the run spans that continue it."""
    start = _only(finished, "workflow.start_execution")
    assert start.context is not None
    runs = [s for s in _children(finished, start) if s.name == run_name]
    assert runs, f"no {run_name} span continues the start's trace"
    assert {r.attributes["execution_id"] for r in runs if r.attributes} == {execution_id}
    steps = [s for run in runs for s in _children(finished, run)]
    assert all(s.context is not None and s.context.trace_id == start.context.trace_id
               for s in steps)  # fmt: skip
    return start.context.trace_id, steps


def test_one_trace_runs_from_the_manager_through_every_step(
    restate_server: LocalRestateServer, services: ServicesThread, spans: InMemorySpanExporter
) -> None:
    lines = io.StringIO()
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    spans.clear()

    async def scenario() -> tuple[str, Any]:
        # Both sides log through this process's structlog: JSON into `lines`.
        configure_logging(
            level="info", fmt="json", stream=lines, extra_processors=[drop_during_replay]
        )
        async with _manager(restate_server, services) as manager:
            request = {"tenant_id": tenant, "operation": "provision", "compute_provider": "mock"}
            return await _run(manager, TENANT_WORKFLOW, f"{tenant}-provision", request)

    execution_id, _ = asyncio.run(scenario())
    trace_id, steps = _run_spans(list(spans.get_finished_spans()), "tenant.run", execution_id)
    names = {s.name for s in steps}
    assert {"step provision mock", "step health check 1"} <= names, names

    # The two sides' log lines join: the same trace id and the same execution id.
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    manager_line = next(
        r for r in records if r.get("operation") == "start_execution" and "logger_name" in r
    )
    services_lines = [r for r in records if r.get("logger_name") == "landlord.services.tenant"]
    assert services_lines, records
    assert manager_line["trace_id"] == format(trace_id, "032x")
    assert manager_line["execution_id"] == execution_id
    for line in services_lines:
        assert line["trace_id"] == format(trace_id, "032x"), line
        assert line["execution_id"] == execution_id
        assert line["tenant_id"] == tenant


def test_an_asl_machine_traces_its_run_and_each_task(
    restate_server: LocalRestateServer, services: ServicesThread, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    machine = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::http:invoke",
                "Parameters": {
                    "ApiEndpoint": f"http://127.0.0.1:{echo.server_address[1]}/echo",
                    "Method": "POST",
                    "RequestBody.$": "$",
                },
                "OutputPath": "$.ResponseBody.got",
                "End": True,
            }
        },
    }
    workflow_id = f"traced-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[str, Any]:
        async with _manager(restate_server, services) as manager:
            await manager.create_workflow(
                WorkflowSpec(workflow_id=workflow_id, provider_type="restate", definition=machine)
            )
            return await _run(manager, workflow_id, "run", {"n": 1})

    try:
        execution_id, status = asyncio.run(scenario())
    finally:
        echo.shutdown()
        echo.server_close()
    assert status.output == {"n": 1}
    _, steps = _run_spans(list(spans.get_finished_spans()), "state_machine.run", execution_id)
    assert [s.name for s in steps] == ["step Call"]
