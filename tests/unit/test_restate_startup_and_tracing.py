"""RestateProvider at start-up (registration failures are logged, not raised) and trace
context on ingress calls (handler spans join the caller's trace)."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from structlog.testing import capture_logs

from local_stack.ports import free_port
from provider import Manager, Registry
from provider.config import RestateSettings
from provider.restate import RestateProvider


async def test_startup_registration_failure_is_logged_and_startup_goes_on() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    provider = RestateProvider(
        RestateSettings(endpoint=closed, admin_endpoint=closed, retry_attempts=0)
    )
    registry = Registry()
    registry.register(provider)
    with capture_logs() as logs:
        await Manager(registry, default_provider="restate").start()
    failure = next(entry for entry in logs if entry["event"] == "startup registration failed")
    assert failure["log_level"] == "error"
    assert failure["endpoint"] == closed
    assert failure["workflow_id"] == "tenant-provisioning"
    assert f"cannot reach {closed}" in failure["reason"]
    health = await provider.health()
    assert not health.healthy
    assert f"cannot reach {closed}" in health.checks[0].detail
    await provider.aclose()


async def test_no_startup_registration_when_turned_off() -> None:
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    transport = httpx.MockTransport(record)
    provider = RestateProvider(
        RestateSettings(register_on_startup=False), admin_transport=transport
    )
    await provider.start()
    assert calls == []


@pytest.fixture
def tracer() -> trace.Tracer:
    provider = TracerProvider()
    return provider.get_tracer("test")


async def test_trace_context_rides_on_the_ingress_call(tracer: trace.Tracer) -> None:
    seen: list[httpx.Request] = []

    def ingress(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"invocationId": "inv_" + "a" * 30, "status": "Accepted"})

    provider = RestateProvider(RestateSettings(), ingress_transport=httpx.MockTransport(ingress))
    with tracer.start_as_current_span("control-plane") as span:
        await provider.ingress.send("w", "TenantProvisioning", "k", "run", b"{}")
        trace_id = format(span.get_span_context().trace_id, "032x")
    assert seen[0].headers["traceparent"].split("-")[1] == trace_id
    await provider.aclose()
