"""The dashboard's Restate panels name series a real restate-server serves at its node port's
/metrics. Some appear only after an invocation ran, others with the partitions' periodic status
reports, so one invocation runs first and the scrape is repeated until every name is there or
the deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from local_stack import LocalRestateServer
from tests.deploy.observability import (
    DASHBOARD,
    Inventory,
    Query,
    inventory_from_exposition,
    load_json,
    provider_inventory,
    queries,
    query_problems,
    services_inventory,
)
from tests.servers import register_deployment

GREETER_APP = "tests.integration.apps.greeter:app"
METRICS_DEADLINE_SECONDS = 30.0


def _problems(checked: list[Query], inventory: Inventory) -> dict[str, list[str]]:
    found = {f"{q.panel} {q.ref}": query_problems(q.expr, inventory) for q in checked}
    return {where: problems for where, problems in found.items() if problems}


def test_restate_panels_name_series_the_server_serves(
    restate_server: LocalRestateServer, serve_asgi: Callable[[str], str]
) -> None:
    checked = [q for q in queries(load_json(DASHBOARD)) if "restate_" in q.expr]
    assert len(checked) >= 8
    ours = {**services_inventory(), **provider_inventory()}
    register_deployment(restate_server, serve_asgi(GREETER_APP))
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        call = client.post(f"{restate_server.ingress_url}/restate/call/Greeter/greet", json="m")
        assert call.status_code == 200, call.text
        deadline = time.monotonic() + METRICS_DEADLINE_SECONDS
        while True:
            scrape = client.get(f"{restate_server.node_url}/metrics")
            assert scrape.status_code == 200, scrape.text
            inventory = {**ours, **inventory_from_exposition(scrape.text)}
            problems = _problems(checked, inventory)
            if not problems or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert problems == {}
    misspelt = "sum by (status) (rate(restate_ingress_request_total[1m]))"
    assert "no such series: restate_ingress_request_total" in query_problems(misspelt, inventory)
