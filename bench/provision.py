"""Benchmark: tenant `provision` workflows per second, ours against a bare Restate workflow.

Why: the tenant workflow should cost little more than Restate itself. This starts its own
restate-server (temporary data, 1 partition, free ports) and two deployments, each its own
hypercorn process with the production settings: the product's services app (`landlord-restate
serve`) and the baseline, `bench/bare_app.py`, which does the same Restate operations with
trivial bodies. Both are registered through `RestateProvider.create_workflow`. It provisions
N tenants per workload at a fixed concurrency, both through the same blocking ingress call
(`/restate/call/{Workflow}/{tenant}/run`) with the same client, so that the ratio measures
the workflow code and nothing else; bare and real rounds alternate against the same server.
It reports throughput, latency p50/p90/p99, CPU per workflow of each process, the journal
length, and the ratio real/bare throughput against the target.

    .venv/bin/python -m bench.provision [--tenants 300] [--concurrency 8] [--rounds 2]
        [--warmup 20] [--quick] [--json]

Exit status: 0 when every call succeeded (whether or not the target is met: this reports, it
does not test), 1 when any call failed (non-200 or transport error), 2 when setup failed,
130 when interrupted (Ctrl-C or SIGTERM). Every started process is stopped in all cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import httpx

from bench import harness
from provider import WorkflowSpec
from provider.config import RestateSettings
from provider.restate import tenant_workflow_spec
from services.contract import TENANT_RUN_HANDLER, TENANT_SERVICE

TARGET_RATIO = 0.8
CALL_TIMEOUT_SECONDS = 120.0
WORKFLOWS = {"bare": "BareProvisioning", "real": TENANT_SERVICE}
BARE_SPEC_ID = "bare-provisioning"
JOURNAL_QUERY = (
    "SELECT target_service_name AS service, count(*) AS invocations, "
    "avg(journal_size) AS journal FROM sys_invocation GROUP BY target_service_name"
)
QUICK = {"tenants": 20, "rounds": 1, "warmup": 5}
COLUMNS: list[harness.Column] = [
    ("workload", "arm", "{}"),
    ("round", "round", "{}"),
    ("workflows", "runs", "{}"),
    ("errors", "errors", "{}"),
    ("wf/s", "throughput", "{:.1f}"),
    ("p50 ms", "p50_ms", "{:.1f}"),
    ("p90 ms", "p90_ms", "{:.1f}"),
    ("p99 ms", "p99_ms", "{:.1f}"),
    ("app CPU ms/wf", "cpu_ms_app", "{:.2f}"),
    ("restate CPU ms/wf", "cpu_ms_restate", "{:.2f}"),
    ("client CPU ms/wf", "cpu_ms_client", "{:.2f}"),
    ("other CPU %", "other_cpu_percent", "{:.1f}"),
]


def start_stack(work: Path, stack: contextlib.ExitStack) -> harness.Stack:
    """The server and both deployments (`real`, `bare`), started, and both workflows created
    through the provider; everything is stopped when `stack` closes."""
    bin_dir = Path(sys.executable).parent
    apps = {
        "real": harness.deployment(
            "services app", [str(bin_dir / "landlord-restate"), "serve", "--bind"], work
        ),
        "bare": harness.asgi_deployment("bare app", "bench.bare_app:app", work),
    }
    ready = harness.start_stack(work, stack, apps)
    real_uri, bare_uri = ready.apps["real"].url, ready.apps["bare"].url
    bare = WorkflowSpec(
        workflow_id=BARE_SPEC_ID,
        definition={"service": WORKFLOWS["bare"], "deployment": {"uri": bare_uri}},
    )
    # The real app first: it serves `WorkflowDefinitions`, where every spec is stored.
    specs = [tenant_workflow_spec(RestateSettings(deployment_uri=real_uri)), bare]
    harness.progress(
        f"creating {', '.join(spec.workflow_id for spec in specs)} through the provider"
    )
    asyncio.run(harness.create_workflows(ready.server, real_uri, specs))
    return ready


def provision_call(client: httpx.AsyncClient, ingress: str, workload: str) -> harness.Call:
    """One tenant provision of `workload` through a blocking ingress call, timed."""

    async def call(tenant: str, phase: harness.Phase) -> None:
        body = {
            "tenant_id": tenant,
            "operation": "provision",
            "compute_provider": "mock",
            "desired_config": {},
        }
        url = f"{ingress}/restate/call/{WORKFLOWS[workload]}/{tenant}/{TENANT_RUN_HANDLER}"
        started = time.perf_counter()
        response = await client.post(url, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:300]}")
        phase.latencies.append(time.perf_counter() - started)

    return call


def client_for(concurrency: int) -> httpx.AsyncClient:
    """One pooled client for every call, `concurrency` connections."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS, limits=limits, trust_env=False)


async def measure(
    stack: harness.Stack, args: argparse.Namespace
) -> tuple[list[harness.Phase], dict[str, float]]:
    """Warm both workloads up, alternate bare and real rounds, then read the journal sizes."""
    ingress = stack.server.ingress_url
    async with client_for(args.concurrency) as client:
        arms = [
            harness.Arm(name, provision_call(client, ingress, name), stack.pids(name))
            for name in WORKFLOWS
        ]
        phases = await harness.alternate(
            arms,
            rounds=args.rounds,
            count=args.tenants,
            warmup=args.warmup,
            concurrency=args.concurrency,
        )
        rows = await harness.query_rows(client, stack.server.admin_url, JOURNAL_QUERY)
    journals = {row["service"]: round(float(row["journal"]), 1) for row in rows}
    return phases, journals


def report(
    phases: list[harness.Phase], journals: dict[str, float], args: argparse.Namespace
) -> dict[str, Any]:
    """The results document: every phase, the merged workloads, the ratio and the verdict."""
    totals = {workload: harness.merged(phases, workload) for workload in WORKFLOWS}
    ratio = harness.ratio(totals["real"].throughput, totals["bare"].throughput)
    return {
        "settings": {
            "tenants": args.tenants,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "partitions": 1,
        },
        "phases": [phase.summary() for phase in [*phases, *totals.values()]],
        "journal_entries": journals,
        "ratio": ratio,
        "target": TARGET_RATIO,
        "verdict": "PASS" if ratio >= TARGET_RATIO else "FAIL",
        "errors": sum(len(phase.errors) for phase in phases),
    }


def print_table(results: dict[str, Any], out: TextIO) -> None:
    """The results as a table for people."""
    settings = results["settings"]
    print(
        f"provision benchmark: {settings['tenants']} tenants x {settings['rounds']} rounds per "
        f"workload, concurrency {settings['concurrency']}, {settings['partitions']} partition "
        "(bare = the baseline, real = our services)",
        file=out,
    )
    harness.summary_table(results["phases"], COLUMNS, out)
    journals = ", ".join(
        f"{name} {size}" for name, size in sorted(results["journal_entries"].items())
    )
    print(f"journal entries per invocation: {journals}", file=out)
    print(
        f"real/bare throughput: {results['ratio']:.2f}x (target >= {results['target']:.2f}x): "
        f"{results['verdict']}",
        file=out,
    )
    if results["errors"]:
        print(f"{results['errors']} calls failed (see stderr)", file=out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, default=300, help="workflows per workload per round")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight")
    parser.add_argument("--rounds", type=int, default=2, help="bare/real rounds, alternating")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted runs per workload first")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = harness.parse_args(parser, argv, QUICK)
    for name in ("tenants", "concurrency", "rounds", "warmup"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            parser.error(f"--{name} is too small")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Set up the server and both deployments, measure, report, and stop every process."""
    args = parse_args(argv)
    with harness.workspace("landlord-bench-") as (work, stack):
        try:
            ready = start_stack(work, stack)
        except Exception as error:  # noqa: BLE001 - any setup failure ends the run the same way
            harness.progress(f"setup failed: {error}")
            return 2
        phases, journals = asyncio.run(measure(ready, args))
        results = report(phases, journals, args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results, sys.stdout)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    harness.run_main(main)
