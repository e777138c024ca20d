"""The tenant run's deadline and retry policy: its request's, else the workflow spec's (sent
as start headers), else the defaults; a request can only shorten the spec's timeout."""

from __future__ import annotations

from datetime import timedelta

import pytest
import restate

from services.contract import (
    INVALID_REQUEST_CODE,
    RETRY_POLICY_HEADER,
    TIMEOUT_HEADER,
    ProvisionRequest,
    RetryPolicy,
)
from services.workflows.tenant_provisioning import DEFAULT_TIMEOUT, spec_policy

SPEC_RETRIES = RetryPolicy(max_attempts=7, initial_interval=timedelta(seconds=2))


def _request(**fields: object) -> ProvisionRequest:
    return ProvisionRequest.model_validate({"tenant_id": "acme", "operation": "plan", **fields})


@pytest.mark.parametrize(
    ("fields", "headers", "timeout"),
    [
        ({}, {}, DEFAULT_TIMEOUT),
        ({}, {TIMEOUT_HEADER: "10m"}, timedelta(minutes=10)),
        ({"timeout": "5m"}, {TIMEOUT_HEADER: "10m"}, timedelta(minutes=5)),
        ({"timeout": "1h"}, {TIMEOUT_HEADER: "10m"}, timedelta(minutes=10)),
        ({"timeout": "1h"}, {}, timedelta(hours=1)),
    ],
    ids=["defaults", "spec", "shorter-request", "longer-request-clamped", "request-alone"],
)
def test_the_deadline(
    fields: dict[str, object], headers: dict[str, str], timeout: timedelta
) -> None:
    assert spec_policy(_request(**fields), headers)[0] == timeout


def test_the_retry_policy_is_the_requests_else_the_specs_else_the_default() -> None:
    sent = {RETRY_POLICY_HEADER: SPEC_RETRIES.model_dump_json()}
    assert spec_policy(_request(), {})[1] == RetryPolicy()
    assert spec_policy(_request(), sent)[1] == SPEC_RETRIES
    own = {"max_attempts": 2}
    assert spec_policy(_request(retry_policy=own), sent)[1] == RetryPolicy(max_attempts=2)


@pytest.mark.parametrize(
    "headers",
    [{TIMEOUT_HEADER: "soon"}, {RETRY_POLICY_HEADER: '{"max_attempts": 0}'}],
    ids=["timeout", "retry-policy"],
)
def test_a_bad_spec_header_is_refused_terminally(headers: dict[str, str]) -> None:
    with pytest.raises(restate.TerminalError) as refused:
        spec_policy(_request(), headers)
    assert refused.value.status_code == INVALID_REQUEST_CODE
    assert "soon" not in refused.value.message
