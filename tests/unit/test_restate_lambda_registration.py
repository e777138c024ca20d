"""Registering the Lambda deployment: settings from the same `LANDLORD_WORKFLOW_RESTATE_*`
variables docs/lambda.md and docs/fargate.md give, driven through RestateProvider against a
MockTransport; what `POST /deployments` carries is what Restate will invoke."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provider.config import ConfigError, load_settings
from provider.restate import RestateProvider, register_tenant_workflow
from tests.unit.test_restate_http import ADMIN, INGRESS, FakeRestate

FUNCTION_VERSION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:landlord-services:7"
INVOKER_ROLE_ARN = "arn:aws:iam::123456789012:role/landlord-restate-invoker"
FARGATE_URI = "http://services.landlord.internal:9080"


def environment(**variables: str) -> dict[str, str]:
    """`LANDLORD_WORKFLOW_RESTATE_*` variables for the two endpoints and the given keys."""
    values = {"ENDPOINT": INGRESS, "ADMIN_ENDPOINT": ADMIN, "RETRY_ATTEMPTS": "0"} | variables
    return {f"LANDLORD_WORKFLOW_RESTATE_{key}": value for key, value in values.items()}


async def registration_bodies(environ: dict[str, str]) -> list[dict[str, Any]]:
    """Register the built-in workflow as `landlord-restate register` does; every
    `POST /deployments` body sent (dry-run discoveries and the registration)."""
    settings = load_settings(environ=environ).settings.workflow.restate
    fake = FakeRestate()
    provider = RestateProvider(
        settings,
        ingress_transport=fake.recorder.transport,
        admin_transport=fake.recorder.transport,
    )
    result = await register_tenant_workflow(provider)
    await provider.aclose()
    assert result.resource_ids["deployment_id"] == "dp_1"
    bodies = [
        json.loads(request.content)
        for request in fake.recorder.requests
        if request.method == "POST" and request.url.path == "/deployments"
    ]
    # Discovery (dry run), the registration itself, then validation's discovery.
    assert [body["dry_run"] for body in bodies] == [True, False, True]
    return bodies


async def test_lambda_with_iam_registers_the_version_arn_and_the_role_to_assume() -> None:
    """lambda + iam: the body names the function version and the invoker role, and no uri."""
    bodies = await registration_bodies(
        environment(
            EXECUTION_MECHANISM="lambda",
            LAMBDA_ARN=FUNCTION_VERSION_ARN,
            AUTH_TYPE="iam",
            ASSUME_ROLE_ARN=INVOKER_ROLE_ARN,
        )
    )
    for body in bodies:
        target = {key: body[key] for key in body if key not in ("force", "dry_run")}
        assert target == {"arn": FUNCTION_VERSION_ARN, "assume_role_arn": INVOKER_ROLE_ARN}


async def test_lambda_without_iam_sends_no_role_to_assume() -> None:
    """lambda with auth_type none: Restate invokes with its own credentials (no role)."""
    bodies = await registration_bodies(
        environment(EXECUTION_MECHANISM="lambda", LAMBDA_ARN=FUNCTION_VERSION_ARN)
    )
    for body in bodies:
        assert body["arn"] == FUNCTION_VERSION_ARN
        assert "assume_role_arn" not in body
        assert "uri" not in body


async def test_fargate_registers_the_service_discovery_uri() -> None:
    """fargate: the body is the Cloud Map name Restate reaches the tasks at, and no arn."""
    bodies = await registration_bodies(
        environment(EXECUTION_MECHANISM="fargate", DEPLOYMENT_URI=FARGATE_URI)
    )
    for body in bodies:
        assert body["uri"] == FARGATE_URI
        assert "arn" not in body
        assert "assume_role_arn" not in body


@pytest.mark.parametrize(
    ("variables", "key"),
    [
        ({"LAMBDA_ARN": "arn:aws:lambda:eu-west-1:123456789012:layer:x"}, "lambda_arn"),
        ({"LAMBDA_ARN": FUNCTION_VERSION_ARN, "AUTH_TYPE": "iam"}, "assume_role_arn"),
    ],
)
def test_lambda_settings_that_cannot_register_fail_at_load(
    variables: dict[str, str], key: str
) -> None:
    """A lambda ARN that is no function, or iam without a role, fails before any request."""
    with pytest.raises(ConfigError, match=rf"workflow\.restate\.{key}"):
        load_settings(environ=environment(EXECUTION_MECHANISM="lambda", **variables))
