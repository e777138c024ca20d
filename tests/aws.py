"""Fake AWS: credentials and a region that exist nowhere, nothing read from the real
environment, moto answering every call, in this process (`fake_aws`) or as a server other
processes call (`moto_server`); Lambda functions that answer with their event (`echo_function`)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

_FROM_THE_REAL_ENVIRONMENT = ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE")
SIMPLE_LAMBDA = {"lambda": {"use_docker": False}}
"""moto's config for Lambda without containers: an invoked function answers with its event."""
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


@contextmanager
def fake_aws(
    monkeypatch: pytest.MonkeyPatch,
    *,
    region: str,
    unset: Iterable[str] = (),
    config: Any = None,
) -> Iterator[None]:
    """moto in `region` (set only as `AWS_DEFAULT_REGION`), with fake credentials; `unset`
    names more variables to clear, `config` is moto's."""
    for name in (*_FROM_THE_REAL_ENVIRONMENT, *unset):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**_FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region}.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config=config) if config is not None else mock_aws():
        yield


@contextmanager
def moto_server(*, region: str) -> Iterator[dict[str, str]]:
    """moto as a server on a free port, Lambda as `SIMPLE_LAMBDA`, Step Functions executing
    its state machines: yields the environment a process needs to call it (endpoint, fake
    credentials, region)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        config = {**SIMPLE_LAMBDA, "stepfunctions": {"execute_state_machine": True}}
        httpx.post(f"{url}/moto-api/config", json=config, trust_env=False).raise_for_status()
        yield {**_FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": region}
    finally:
        server.stop()


def echo_function(name: str, **client_options: Any) -> str:
    """Create a Lambda function `name` that returns its event; its ARN."""
    role = boto3.client("iam", **client_options).create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument="{}"
    )
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handle(event, context):\n    return event\n")
    created = boto3.client("lambda", **client_options).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handle",
        Code={"ZipFile": code.getvalue()},
    )
    return str(created["FunctionArn"])
