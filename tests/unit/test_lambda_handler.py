"""With `AWS_LAMBDA_FUNCTION_NAME` set, `services.app.app` is an AWS Lambda handler that answers
the events Restate's Lambda invoker sends (API Gateway v1 proxy events with base64 bodies)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

import services.app
from tests.lambda_events import MANIFEST_V4, decoded_body, discovery_event, restate_event

LambdaHandler = Callable[[dict[str, Any], object], dict[str, Any]]
Invoke = Callable[[dict[str, Any]], dict[str, Any]]

FUNCTION_NAME = "landlord-services"
INVOKE_TIMEOUT_SECONDS = 30.0
# Settings of the services process that would change what the handler answers (a configured
# identity key turns every unsigned request into a 401).
_SERVICES_ENV = (
    "LANDLORD_SERVICES_IDENTITY_KEYS",
    "LANDLORD_SERVICES_LOG_LEVEL",
    "LANDLORD_SERVICES_LOG_FORMAT",
)


@contextlib.contextmanager
def lambda_mode() -> Iterator[Invoke]:
    """`services.app` imported afresh with `AWS_LAMBDA_FUNCTION_NAME` set; yields a function that
    invokes `services.app.app` as the Lambda runtime would. Restores env and module on exit.

    The SDK's Lambda wrapper creates and installs an event loop in the importing thread, and the
    ASGI app installs a SIGTERM hook on first use; both happen on one worker thread here, so
    neither reaches the test process's main thread (signal hooks fail there and are skipped).
    """
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-runtime")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            for name in _SERVICES_ENV:
                patch.delenv(name, raising=False)
            module = executor.submit(importlib.reload, services.app).result()
            handler: LambdaHandler = module.app
            context = SimpleNamespace(function_name=FUNCTION_NAME, aws_request_id="req-1")

            def invoke(event: dict[str, Any]) -> dict[str, Any]:
                return executor.submit(handler, event, context).result(INVOKE_TIMEOUT_SECONDS)

            try:
                yield invoke
            finally:
                executor.submit(_close_thread_loop).result()
    finally:
        executor.shutdown(wait=True)
        # The environment is restored here: the module is rebuilt as the ASGI app it was.
        importlib.reload(services.app)


def _close_thread_loop() -> None:
    """Close the event loop the SDK installed in this (worker) thread."""
    loop = asyncio.get_event_loop_policy().get_event_loop()
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def invoke() -> Iterator[Invoke]:
    """Invoke `services.app.app` in Lambda mode (see `lambda_mode`)."""
    with lambda_mode() as call:
        yield call


def test_discovery_event_returns_the_manifest_of_every_service(invoke: Invoke) -> None:
    """A Restate discovery event gets a 200 v4 manifest listing the workflow and the object."""
    response = invoke(discovery_event())

    assert response["statusCode"] == 200, decoded_body(response)
    assert response["headers"]["content-type"] == MANIFEST_V4
    manifest = json.loads(decoded_body(response))
    # Lambda cannot stream both ways: Restate only accepts request/response deployments there.
    assert manifest["protocolMode"] == "REQUEST_RESPONSE"
    found = {service["name"]: service for service in manifest["services"]}
    assert set(found) == {service.name for service in services.app.SERVICES}

    workflow = found["TenantProvisioning"]
    assert workflow["ty"] == "WORKFLOW"
    handlers = {handler["name"]: handler["ty"] for handler in workflow["handlers"]}
    assert handlers == {"run": "WORKFLOW", "status": "SHARED"}

    assert found["TenantLock"]["ty"] == "VIRTUAL_OBJECT"


def test_health_event_answers_ok(invoke: Invoke) -> None:
    """`/health` answers 200 `{"status":"ok"}` through the Lambda adapter too."""
    response = invoke(restate_event("GET", "/health"))

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert json.loads(decoded_body(response)) == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nothing-here"),
        ("POST", "/invoke/NoSuchService/run"),
        ("POST", "/invoke/TenantProvisioning/no_such_handler"),
    ],
)
def test_unknown_path_is_404(invoke: Invoke, method: str, path: str) -> None:
    """Paths that are not discovery, health or a known handler answer 404 with an empty body."""
    response = invoke(restate_event(method, path, body=b"{}"))

    assert response["statusCode"] == 404
    assert decoded_body(response) == b""


def test_lambda_mode_leaves_no_trace() -> None:
    """Leaving Lambda mode restores the env, the ASGI `services.app.app` and the SIGTERM handler."""
    had_variable = "AWS_LAMBDA_FUNCTION_NAME" in os.environ
    sigterm_before = signal.getsignal(signal.SIGTERM)

    with lambda_mode() as call:
        # The module-level object really was the Lambda handler inside.
        assert not inspect.iscoroutinefunction(services.app.app)
        assert call(discovery_event())["statusCode"] == 200

    assert ("AWS_LAMBDA_FUNCTION_NAME" in os.environ) == had_variable
    assert inspect.iscoroutinefunction(services.app.app)
    assert list(inspect.signature(services.app.app).parameters) == ["scope", "receive", "send"]
    assert signal.getsignal(signal.SIGTERM) is sigterm_before
