"""Benchmark: tenant `provision` workflows per second against bare-5, journals, and memory.

Why: the tenant workflow should cost little more than Restate itself, and a long-running
services process should not grow. This starts its own restate-server (temporary data, 1
partition, free ports) and two deployments, each its own hypercorn process with the production
settings: the product's services app (`landlord-restate serve`) and bare-5
(`bench/bare_app.py`: 5 no-op steps + 5 state writes, not a replica of the tenant workflow;
beside it `keyed`, bare-5 after one call to a no-op handler of an object keyed by the tenant,
the least that holding a tenant through a call to a Restate object costs, and `object`, bare-5
as the exclusive handler of an object keyed by the tenant, called with an idempotency key: the
tenant held by Restate's one invocation per key, with no call at all).
Both are registered through `RestateProvider.create_workflow`. It provisions N tenants (mock
compute) per workload at a fixed concurrency, both through the same blocking ingress call
(`/restate/call/{Workflow}/{tenant}/run`) with the same client, bare and real rounds
alternating against the same server. It reports throughput, latency p50/p90/p99, CPU per
workflow of each process, journal entries per invocation and per operation (every invocation
one provision causes, the tenant lock's included), then keeps provisioning to read the
services process's RSS after 1,000 and 10,000 provisions. Each goal prints as
`goal … : met|not met (figures)`.

What encryption costs: two more workloads of the real workflow carry `SECRETS` env values,
`clear` in clear and `sealed` sealed the way `RestateProvider` sends them (sealed per call, so
the client's CPU includes the control plane's part); the figure compares the two.

    .venv/bin/python -m bench.provision [--tenants 300] [--concurrency 8] [--rounds 2]
        [--warmup 20] [--rss-first 1000] [--rss-provisions 10000] [--quick] [--json]

Exit status: 0 when every call succeeded (whether or not the goals are met: this reports, it
does not test), 1 when any call failed (non-200 or transport error), 2 when setup failed,
130 when interrupted (Ctrl-C or SIGTERM). Every started process is stopped in all cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from bench import harness
from bench.bare_app import (
    BARE_KEYED_SERVICE,
    BARE_OBJECT_SERVICE,
    BARE_SERVICE,
    BARE_TENANT_SERVICE,
)
from provider import WorkflowSpec
from provider.config import RestateSettings
from provider.restate import tenant_workflow_spec
from sealing import KEYRING_ENV, Keyring, seal_secrets
from services.contract import LOCK_SERVICE, TENANT_RUN_HANDLER, TENANT_SERVICE

TARGET_RATIO = 0.8
RSS_FIRST, RSS_LAST = 1000, 10_000
"""Provisions served at the first and last RSS reading, by default."""
RSS_TOLERANCE = 0.10
CALL_TIMEOUT_SECONDS = 120.0
SETTLE_SECONDS = 30.0
WORKFLOWS = {
    "bare": BARE_SERVICE,
    "keyed": BARE_KEYED_SERVICE,
    "object": BARE_OBJECT_SERVICE,
    "real": TENANT_SERVICE,
}
SERVICES = {
    "bare": [BARE_SERVICE],
    "keyed": [BARE_KEYED_SERVICE, BARE_TENANT_SERVICE],
    "object": [BARE_OBJECT_SERVICE],
    "real": [TENANT_SERVICE, LOCK_SERVICE],
}
"""The services whose invocations one provision of each workload causes."""
ARMS = {**WORKFLOWS, "clear": TENANT_SERVICE, "sealed": TENANT_SERVICE}
"""Every workload and its workflow: `clear` and `sealed` are `real` with secrets."""
SECRETS = 5
"""Env values of a `clear` / `sealed` provision (a tenant's database password, API tokens…)."""
BARE_SPEC_ID = "bare-provisioning"
MIB = 1024 * 1024
QUICK = {"tenants": 20, "rounds": 1, "warmup": 5, "rss_provisions": 0}
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


def provision_call(
    client: httpx.AsyncClient, ingress: str, workload: str, *, keyring: Keyring | None = None
) -> harness.Call:
    """One tenant provision of `workload` through a blocking ingress call, timed (for `sealed`,
    sealing its secrets under `keyring` included)."""
    if workload == "sealed" and keyring is None:
        raise ValueError("the sealed workload needs the keyring the services hold")

    async def call(tenant: str, phase: harness.Phase) -> None:
        env = {f"SECRET_{i}": f"{tenant}-secret-{i}" for i in range(SECRETS)}
        body: Any = {
            "tenant_id": tenant,
            "operation": "provision",
            "compute_provider": "mock",
            "desired_config": {"env": env} if workload in ("clear", "sealed") else {},
        }
        url = f"{ingress}/restate/call/{ARMS[workload]}/{tenant}/{TENANT_RUN_HANDLER}"
        started = time.perf_counter()
        if workload == "sealed":
            body = seal_secrets(body, keyring=keyring, execution=tenant)
        # An object's handler is deduplicated by an idempotency key, as a workflow is by its key.
        headers = {"idempotency-key": tenant} if workload == "object" else None
        response = await client.post(url, json=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:300]}")
        phase.latencies.append(time.perf_counter() - started)

    return call


def client_for(concurrency: int) -> httpx.AsyncClient:
    """One pooled client for every call, `concurrency` connections."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS, limits=limits, trust_env=False)


# -- journals ----------------------------------------------------------------------------------

_SERVICE_LIST = ", ".join(f"'{name}'" for names in SERVICES.values() for name in names)
JOURNAL_QUERY = (
    "SELECT target_service_name AS service, target_handler_name AS handler, "
    "count(*) AS invocations, sum(coalesce(journal_size, 0)) AS entries, "
    "sum(CASE WHEN status = 'scheduled' THEN 1 ELSE 0 END) AS scheduled, "
    "sum(CASE WHEN status IN ('completed', 'scheduled') THEN 0 ELSE 1 END) AS busy "
    f"FROM sys_invocation WHERE target_service_name IN ({_SERVICE_LIST}) "
    "GROUP BY target_service_name, target_handler_name"
)


async def journal_rows(client: httpx.AsyncClient, admin_url: str) -> list[dict[str, Any]]:
    """Invocations and journal entries per handler, once the one-way calls (the lock's
    release) have finished: polled with a deadline."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        rows = await harness.query_rows(client, admin_url, JOURNAL_QUERY)
        if not any(int(row.get("busy", 0)) for row in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.1)


def journals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Entries per invocation of each handler, and per operation of each workload (every
    invocation it caused: counted against its workflow's runs)."""
    handlers = {
        f"{row['service']}/{row['handler']}": {
            "invocations": int(row["invocations"]),
            "entries_per_invocation": round(int(row["entries"]) / int(row["invocations"]), 1),
            "scheduled": int(row.get("scheduled", 0)),
        }
        for row in rows
    }
    per_operation = {}
    for workload, services in SERVICES.items():
        mine = [row for row in rows if row["service"] in services]
        runs = sum(
            int(row["invocations"])
            for row in mine
            if (row["service"], row["handler"]) == (WORKFLOWS[workload], TENANT_RUN_HANDLER)
        )
        if not runs:
            continue
        per_operation[workload] = {
            "invocations": round(sum(int(row["invocations"]) for row in mine) / runs, 2),
            "entries": round(sum(int(row["entries"]) for row in mine) / runs, 1),
            "scheduled": round(sum(int(row.get("scheduled", 0)) for row in mine) / runs, 2),
        }
    return {"per_invocation": handlers, "per_operation": per_operation}


# -- memory ------------------------------------------------------------------------------------


@dataclass
class RssPhase:
    """The services process's RSS after so many provisions, and the runs that got it there."""

    checkpoints: list[tuple[int, int]]
    """(provisions served so far, RSS in bytes then)."""
    phases: list[harness.Phase]


async def grow(
    arm: harness.Arm, served: int, *, checkpoints: Sequence[int], concurrency: int, pid: int | None
) -> RssPhase:
    """Provision until the services process has served each checkpoint's count (it has
    served `served` so far), reading its RSS at each."""
    found = RssPhase([], [])
    for target in checkpoints:
        if target > served:
            phase = await harness.run_batch(arm, f"rss to {target}", target - served, concurrency)
            found.phases.append(phase)
            served += len(phase.latencies)
        found.checkpoints.append((served, harness.rss_bytes(pid)))
        harness.progress(
            f"services RSS after {served} provisions: {found.checkpoints[-1][1] / MIB:.1f} MiB"
        )
    return found


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Measured:
    """Everything one run measured."""

    phases: list[harness.Phase]
    journals: dict[str, Any]
    rss: RssPhase | None


async def measure(stack: harness.Stack, args: argparse.Namespace) -> Measured:
    """Warm both workloads up, alternate bare and real rounds, read the journals, then keep
    provisioning (real) to read the services process's RSS."""
    ingress = stack.server.ingress_url
    keyring = Keyring.from_environment()
    assert keyring is not None, "main() sets the keyring the services hold"
    async with client_for(args.concurrency) as client:
        arms = [
            harness.Arm(
                name,
                provision_call(client, ingress, name, keyring=keyring),
                stack.pids("bare" if name in ("bare", "keyed", "object") else "real"),
            )
            for name in ARMS
        ]
        phases = await harness.alternate(
            arms,
            rounds=args.rounds,
            count=args.tenants,
            warmup=args.warmup,
            concurrency=args.concurrency,
        )
        found = journals(await journal_rows(client, stack.server.admin_url))
        rss = None
        if args.rss_provisions:
            real = next(arm for arm in arms if arm.name == "real")
            served = found["per_invocation"][f"{TENANT_SERVICE}/{TENANT_RUN_HANDLER}"]
            rss = await grow(
                real,
                served["invocations"],
                checkpoints=[args.rss_first, args.rss_provisions],
                concurrency=args.concurrency,
                pid=stack.apps["real"].pid,
            )
    return Measured(phases, found, rss)


def goal(name: str, met: bool, figure: str) -> dict[str, Any]:
    """One goal's verdict."""
    return {"goal": name, "met": met, "figure": figure}


def goals(
    totals: dict[str, harness.Phase], measured: Measured, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The issue's goals, each met or not, with the figures that decide it."""
    real, bare = totals["real"].throughput, totals["bare"].throughput
    ratio = harness.ratio(real, bare)
    found = [
        goal(
            f"tenant provision vs bare-5 throughput >= {TARGET_RATIO:.2f}x",
            ratio >= TARGET_RATIO,
            f"{ratio:.2f}x: {real:.1f} vs {bare:.1f} wf/s, c={args.concurrency}",
        )
    ]
    name = (
        f"services RSS at {args.rss_provisions or RSS_LAST:,} within "
        f"{RSS_TOLERANCE * 100:.0f} % of {args.rss_first:,}"
    )
    if measured.rss is None or len(measured.rss.checkpoints) < 2:
        found.append(goal(name, False, "not measured: --rss-provisions 0"))
    else:
        (first_n, first), (last_n, last) = measured.rss.checkpoints[0], measured.rss.checkpoints[-1]
        growth = (last - first) / first if first else 0.0
        found.append(
            goal(
                name,
                abs(growth) <= RSS_TOLERANCE,
                f"{first / MIB:.1f} MiB after {first_n:,}, {last / MIB:.1f} MiB after "
                f"{last_n:,}: {growth * 100:+.1f} %",
            )
        )
    return found


def encryption(totals: dict[str, harness.Phase]) -> dict[str, Any]:
    """What sealing `SECRETS` env values costs a provision: `sealed` against `clear`."""
    sealed, clear = totals["sealed"].summary(), totals["clear"].summary()
    return {
        "secrets": SECRETS,
        "throughput_ratio": harness.ratio(sealed["throughput"], clear["throughput"]),
        "p50_ms_added": round(sealed["p50_ms"] - clear["p50_ms"], 2),
        "app_cpu_ms_added": round(sealed["cpu_ms_app"] - clear["cpu_ms_app"], 2),
        "client_cpu_ms_added": round(sealed["cpu_ms_client"] - clear["cpu_ms_client"], 2),
        "restate_cpu_ms_added": round(sealed["cpu_ms_restate"] - clear["cpu_ms_restate"], 2),
    }


def report(measured: Measured, args: argparse.Namespace) -> dict[str, Any]:
    """The results document: every phase, the merged workloads, journals, memory and goals."""
    totals = {workload: harness.merged(measured.phases, workload) for workload in ARMS}
    rss_phases = measured.rss.phases if measured.rss else []
    return {
        "settings": {
            "tenants": args.tenants,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "rss_first": args.rss_first,
            "rss_provisions": args.rss_provisions,
            "partitions": 1,
        },
        "phases": [phase.summary() for phase in [*measured.phases, *totals.values()]],
        "rss_phases": [phase.summary() for phase in rss_phases],
        "journal_entries": measured.journals,
        "services_rss_mib": [
            {"provisions": n, "rss_mib": round(rss / MIB, 1)}
            for n, rss in (measured.rss.checkpoints if measured.rss else [])
        ],
        "ratio": harness.ratio(totals["real"].throughput, totals["bare"].throughput),
        "keyed": {
            "vs_bare": harness.ratio(totals["keyed"].throughput, totals["bare"].throughput),
            "real_vs_keyed": harness.ratio(totals["real"].throughput, totals["keyed"].throughput),
        },
        "object": {
            "vs_bare": harness.ratio(totals["object"].throughput, totals["bare"].throughput),
        },
        "encryption": encryption(totals),
        "goals": goals(totals, measured, args),
        "errors": sum(len(phase.errors) for phase in [*measured.phases, *rss_phases]),
    }


def print_table(results: dict[str, Any], out: TextIO) -> None:
    """The results as a table for people."""
    settings = results["settings"]
    print(
        f"provision benchmark: {settings['tenants']} tenants x {settings['rounds']} rounds per "
        f"workload, concurrency {settings['concurrency']}, {settings['partitions']} partition "
        "(bare = bare-5: 5 no-op steps + 5 state writes; keyed = bare-5 after one object call; "
        "object = bare-5 in an object's exclusive handler; real = our services, mock compute)",
        file=out,
    )
    harness.summary_table([*results["phases"], *results["rss_phases"]], COLUMNS, out)
    entries = results["journal_entries"]
    handlers = ", ".join(
        f"{name} {figures['entries_per_invocation']}"
        + (
            f" ({figures['scheduled']} of {figures['invocations']} still scheduled)"
            if figures["scheduled"]
            else ""
        )
        for name, figures in sorted(entries["per_invocation"].items())
    )
    print(f"journal entries per invocation: {handlers}", file=out)
    for workload, figures in sorted(entries["per_operation"].items()):
        scheduled = (
            f", {figures['scheduled']} of them still scheduled" if figures["scheduled"] else ""
        )
        print(
            f"per {workload} provision: {figures['invocations']} invocations{scheduled}, "
            f"{figures['entries']} journal entries",
            file=out,
        )
    for point in results["services_rss_mib"]:
        print(
            f"services RSS after {point['provisions']:,} provisions: {point['rss_mib']} MiB",
            file=out,
        )
    keyed = results["keyed"]
    print(
        f"holding the tenant through a Restate object, at the least (keyed = bare-5 after one "
        f"call to a no-op object handler keyed by the tenant): keyed {keyed['vs_bare']:.2f}x "
        f"of bare-5; real {keyed['real_vs_keyed']:.2f}x of keyed",
        file=out,
    )
    print(
        f"holding the tenant by running in its object (object = bare-5 as the exclusive handler "
        f"of an object keyed by the tenant): object {results['object']['vs_bare']:.2f}x of bare-5",
        file=out,
    )
    cost = results["encryption"]
    print(
        f"encryption per provision ({cost['secrets']} env secrets, sealed vs clear): "
        f"{cost['throughput_ratio']:.2f}x throughput, p50 {cost['p50_ms_added']:+.2f} ms, "
        f"CPU {cost['app_cpu_ms_added']:+.2f} ms services, {cost['client_cpu_ms_added']:+.2f} ms "
        f"client (sealing), {cost['restate_cpu_ms_added']:+.2f} ms restate",
        file=out,
    )
    for found in results["goals"]:
        verdict = "met" if found["met"] else "not met"
        print(f"goal {found['goal']} : {verdict} ({found['figure']})", file=out)
    if results["errors"]:
        print(f"{results['errors']} calls failed (see stderr)", file=out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, default=300, help="workflows per workload per round")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight")
    parser.add_argument("--rounds", type=int, default=2, help="bare/real rounds, alternating")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted runs per workload first")
    parser.add_argument(
        "--rss-first",
        type=int,
        default=RSS_FIRST,
        help="provisions served at the first RSS reading",
    )
    parser.add_argument(
        "--rss-provisions",
        type=int,
        default=RSS_LAST,
        help="provisions served at the last RSS reading (0: no memory phase)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = harness.parse_args(parser, argv, QUICK)
    for name in ("tenants", "concurrency", "rounds", "warmup", "rss_first", "rss_provisions"):
        if getattr(args, name) < (1 if name in ("tenants", "concurrency", "rounds") else 0):
            parser.error(f"--{name.replace('_', '-')} is too small")
    if args.rss_provisions and args.rss_provisions <= args.rss_first:
        parser.error("--rss-provisions must be above --rss-first (or 0)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Set up the server and both deployments, measure, report, and stop every process."""
    args = parse_args(argv)
    # Both sides hold this keyring: the services started below inherit it.
    os.environ.setdefault(KEYRING_ENV, Keyring.new_entry("bench"))
    with harness.workspace("landlord-bench-") as (work, stack):
        try:
            ready = start_stack(work, stack)
        except Exception as error:  # noqa: BLE001 - any setup failure ends the run the same way
            harness.progress(f"setup failed: {error}")
            return 2
        results = report(asyncio.run(measure(ready, args)), args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results, sys.stdout)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    harness.run_main(main)
