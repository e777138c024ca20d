"""The services' `/metrics`: each tenant operation's start and end, its compensations, its
wait for the lock, a callback that gave up and a secret that cannot open move their counters by
exactly one, under a normal server and one that replays at every step."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.metrics import METRIC_NAMES

from .callbacks import CallbackServer
from .conftest import Stack
from .test_operations import key, request

NEVER_HEALTHY = [sys.executable, "-c", "import time; time.sleep(600)"]

Sample = tuple[str, frozenset[tuple[str, str]]]


def scrape(stack: Stack) -> dict[Sample, float]:
    """Every sample the services' `/metrics` shows, parsed by prometheus_client's own parser."""
    response = httpx.get(f"{stack.services.url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


class Moves:
    """What changed between two scrapes, read by metric name and labels."""

    def __init__(self, before: dict[Sample, float], after: dict[Sample, float]) -> None:
        self.delta = {
            sample: value - before.get(sample, 0.0)
            for sample, value in after.items()
            if value != before.get(sample, 0.0)
        }

    def of(self, name: str, **labels: str) -> float:
        return self.delta.get((name, frozenset(labels.items())), 0.0)

    def counters(self) -> dict[str, float]:
        """Each moved counter of ours, by name and labels, e.g. `ended{outcome=failed,…}`."""
        return {
            f"{name}{dict(sorted(labels))}": value
            for (name, labels), value in self.delta.items()
            if name.endswith("_total") and name.startswith("landlord_")
        }


@contextmanager
def moves(stack: Stack) -> Iterator[Moves]:
    before = scrape(stack)
    moved = Moves(before, before)
    yield moved
    moved.delta = Moves(before, scrape(stack)).delta


def ended(operation: str, outcome: str) -> str:
    return f"landlord_tenant_operations_ended_total{ {'operation': operation, 'outcome': outcome} }"


def started(operation: str) -> str:
    return f"landlord_tenant_operations_started_total{ {'operation': operation} }"


def test_every_metric_is_served(stack: Stack) -> None:
    names = {
        family.name
        for family in text_string_to_metric_families(
            httpx.get(f"{stack.services.url}/metrics", timeout=10).text
        )
    }
    shown = {f"{name}_total" for name in names} | names
    assert shown >= METRIC_NAMES, METRIC_NAMES - shown


def test_a_provision_counts_one_start_one_success_and_one_lock_wait(
    stack: Stack, tenant: str
) -> None:
    with moves(stack) as moved:
        response = stack.client.call(key(tenant, "provision"), request(tenant, "provision"))
        assert response.status_code == 200, response.text
    assert moved.counters() == {
        started("provision"): 1,
        ended("provision", "succeeded"): 1,
    }
    assert moved.of("landlord_tenant_lock_wait_seconds_count", operation="provision") == 1
    assert (
        moved.of(
            "landlord_tenant_step_duration_seconds_count", step="provision local", outcome="ok"
        )
        == 1
    )
    assert (
        moved.of("landlord_tenant_step_duration_seconds_count", step="health check", outcome="ok")
        >= 1
    )


def test_a_refusal_counts_one_failure_and_its_undo(stack: Stack, tenant: str) -> None:
    with moves(stack) as moved:
        response = stack.client.call(
            key(tenant, "provision"),
            request(
                tenant,
                "provision",
                compute_provider="mock",
                desired_config={"fail_on": "provision", "failure": "permanent"},
            ),
        )
        assert response.status_code == 422, response.text
    assert moved.counters() == {
        started("provision"): 1,
        ended("provision", "failed"): 1,
        "landlord_tenant_compensations_total{'outcome': 'compensated'}": 1,
    }
    assert (
        moved.of(
            "landlord_tenant_step_duration_seconds_count", step="provision mock", outcome="error"
        )
        == 1
    )


def test_a_cancel_counts_one_cancellation_and_one_compensation(stack: Stack, tenant: str) -> None:
    execution = key(tenant, "provision")
    with moves(stack) as moved:
        invocation = stack.client.send(
            execution, request(tenant, "provision", desired_config={"command": NEVER_HEALTHY})
        )
        stack.client.wait_for(
            execution, lambda s: bool(s["step"]) and s["step"].startswith("health check")
        )
        stack.client.cancel(invocation)
        assert stack.client.attach(execution).status_code == 409
    assert moved.counters() == {
        started("provision"): 1,
        ended("provision", "cancelled"): 1,
        "landlord_tenant_compensations_total{'outcome': 'compensated'}": 1,
    }


def test_a_deadline_counts_one_timeout_and_one_compensation(stack: Stack, tenant: str) -> None:
    with moves(stack) as moved:
        response = stack.client.call(
            key(tenant, "provision"),
            request(tenant, "provision", desired_config={"command": NEVER_HEALTHY}, timeout="3s"),
        )
        assert response.status_code == 408, response.text
    assert moved.counters() == {
        started("provision"): 1,
        ended("provision", "timed_out"): 1,
        "landlord_tenant_compensations_total{'outcome': 'compensated'}": 1,
    }


def test_each_refused_callback_counts_once(stack: Stack, tenant: str) -> None:
    with CallbackServer(answer=403) as control_plane, moves(stack) as moved:
        response = stack.client.call(
            key(tenant, "plan"),
            request(tenant, "plan", compute_provider="mock", api_base_url=control_plane.url),
        )
        assert response.status_code == 200, response.text
    assert len(control_plane.received) == 2  # planning, then its end: each refused once
    assert (
        moved.of("landlord_tenant_step_duration_seconds_count", step="notify", outcome="error") == 2
    )
    assert moved.counters() == {
        started("plan"): 1,
        ended("plan", "succeeded"): 1,
        "landlord_tenant_callback_failures_total{}": 2,
    }


def test_a_secret_that_cannot_open_counts_once(stack: Stack, tenant: str) -> None:
    config: dict[str, Any] = {"env": {"T": {"$secret_ref": "env:LANDLORD_TEST_NEVER_SET"}}}
    with moves(stack) as moved:
        response = stack.client.call(
            key(tenant, "provision"), request(tenant, "provision", desired_config=config)
        )
        assert response.status_code == 422, response.text
    assert moved.counters() == {
        started("provision"): 1,
        ended("provision", "failed"): 1,
        "landlord_secret_open_failures_total{}": 1,
    }
