"""Benchmark: tenant `provision` workflows per second, ours against a bare Restate workflow.

Why: the tenant workflow should cost little more than Restate itself. This script starts its
own restate-server (temporary data, 1 partition, free ports) and two deployments, each its own
hypercorn process with the production settings: the real services app (`landlord-restate
serve`) and `bench/bare_app.py`, which does the same Restate operations with trivial bodies.
It provisions N tenants per workload at a fixed concurrency through blocking ingress calls,
alternating bare and real rounds against the same server and client, and reports throughput,
latency p50/p90/p99, CPU per workflow of each process, the journal length, and the ratio
real/bare throughput against the target.

    .venv/bin/python bench/provision.py [--tenants 300] [--concurrency 8] [--rounds 2] [--json]

Exit status: 0 when every call succeeded (whether or not the target is met: this reports, it
does not test), 1 when any call failed (non-200 or transport error), 2 when setup failed,
130 when interrupted (Ctrl-C or SIGTERM). Every started process is stopped in all cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import psutil

from provider.http_process import HttpProcess
from provider.restate import LocalRestateServer, ensure_restate_server
from provider.restate.ports import free_port
from services.serving import register_deployment

REPO_ROOT = Path(__file__).resolve().parents[1]  # cwd of the deployments: `bench.bare_app`
TARGET_RATIO = 0.8
CALL_TIMEOUT_SECONDS = 120.0
WORKFLOWS = {"bare": "BareProvisioning", "real": "TenantProvisioning"}
JOURNAL_QUERY = (
    "SELECT target_service_name AS service, count(*) AS invocations, "
    "avg(journal_size) AS journal FROM sys_invocation GROUP BY target_service_name"
)


def progress(message: str) -> None:
    """One progress line on stderr (stdout carries only the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- processes -------------------------------------------------------------------------------


def deployment(name: str, command: list[str], log_path: Path) -> HttpProcess:
    """One hypercorn process serving a Restate deployment on a free loopback port (`command`
    gets `127.0.0.1:PORT` appended)."""
    address = f"127.0.0.1:{free_port()}"
    return HttpProcess(
        name=name,
        command=[*command, address],
        url=f"http://{address}",
        log_path=log_path,
        cwd=REPO_ROOT,
    )


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Phase:
    """One batch of workflows of one workload: what completed, how fast, at what CPU cost."""

    workload: str
    round: str
    latencies: list[float]
    errors: list[str]
    wall_seconds: float
    cpu_seconds: dict[str, float]

    @property
    def throughput(self) -> float:
        """Successful workflows per second of wall time."""
        return len(self.latencies) / self.wall_seconds if self.wall_seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures of this phase, JSON-ready (latencies in ms, CPU in ms per workflow)."""
        done = max(len(self.latencies), 1)
        return {
            "workload": self.workload,
            "round": self.round,
            "workflows": len(self.latencies),
            "errors": len(self.errors),
            "seconds": round(self.wall_seconds, 3),
            "throughput": round(self.throughput, 1),
            **{
                f"p{q}_ms": round(percentile(self.latencies, q / 100) * 1000, 1)
                for q in (50, 90, 99)
            },
            **{
                f"cpu_ms_per_wf_{name}": round(seconds * 1000 / done, 2)
                for name, seconds in self.cpu_seconds.items()
            },
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def merged(phases: Sequence[Phase], workload: str) -> Phase:
    """All measured rounds of one workload as one phase (throughput = total / total time)."""
    mine = [p for p in phases if p.workload == workload]
    cpu: dict[str, float] = {}
    for phase in mine:
        for name, seconds in phase.cpu_seconds.items():
            cpu[name] = cpu.get(name, 0.0) + seconds
    return Phase(
        workload=workload,
        round="all",
        latencies=[x for p in mine for x in p.latencies],
        errors=[e for p in mine for e in p.errors],
        wall_seconds=sum(p.wall_seconds for p in mine),
        cpu_seconds=cpu,
    )


async def run_phase(
    client: httpx.AsyncClient,
    ingress: str,
    workload: str,
    label: str,
    count: int,
    concurrency: int,
    pids: dict[str, int | None],
) -> Phase:
    """Provision `count` new tenants with `concurrency` blocking calls in flight."""
    run_id = secrets.token_hex(3)
    tag = label.replace(" ", "").replace("-", "")  # tenant ids allow no spaces
    tenants = iter(f"{workload}-{tag}-{run_id}-{i:05d}" for i in range(count))
    latencies: list[float] = []
    errors: list[str] = []

    async def worker() -> None:
        for tenant in tenants:  # shared iterator: each tenant goes to exactly one worker
            url = f"{ingress}/restate/call/{WORKFLOWS[workload]}/{tenant}/run"
            body = {
                "tenant_id": tenant,
                "operation": "provision",
                "compute_provider": "mock",
                "desired_config": {},
            }
            started = time.perf_counter()
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as error:
                errors.append(f"{tenant}: {type(error).__name__}: {error}")
                continue
            if response.status_code != 200:
                errors.append(f"{tenant}: {response.status_code} {response.text[:300]}")
                continue
            latencies.append(time.perf_counter() - started)

    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    phase = Phase(workload, label, latencies, errors, wall, cpu)
    progress(
        f"{label} {workload}: {len(latencies)} ok, {len(errors)} failed in {wall:.2f}s "
        f"({phase.throughput:.1f}/s)"
    )
    for error in errors[:3]:
        progress(f"  error: {error}")
    return phase


async def measure(
    ingress: str, args: argparse.Namespace, pids: dict[str, dict[str, int | None]]
) -> list[Phase]:
    """Warm both workloads up, then alternate bare and real rounds; warm-up is not returned."""
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        timeout=CALL_TIMEOUT_SECONDS, limits=limits, trust_env=False
    ) as client:
        for workload in WORKFLOWS:
            await run_phase(
                client, ingress, workload, "warm-up", args.warmup, args.concurrency, pids[workload]
            )
        phases: list[Phase] = []
        for round_ in range(1, args.rounds + 1):
            for workload in WORKFLOWS:
                phases.append(
                    await run_phase(
                        client,
                        ingress,
                        workload,
                        f"round {round_}",
                        args.tenants,
                        args.concurrency,
                        pids[workload],
                    )
                )
        return phases


def journal_sizes(admin_url: str) -> dict[str, float]:
    """Average journal length per invocation target service (a check that the workloads match)."""
    response = httpx.post(
        f"{admin_url}/query",
        json={"query": JOURNAL_QUERY},
        headers={"Accept": "application/json"},
        timeout=30,
        trust_env=False,
    )
    response.raise_for_status()
    return {row["service"]: round(float(row["journal"]), 1) for row in response.json()["rows"]}


# -- reporting -------------------------------------------------------------------------------


def report(
    phases: list[Phase], journals: dict[str, float], args: argparse.Namespace
) -> dict[str, Any]:
    """The results document: every phase, the merged workloads, the ratio and the verdict."""
    totals = {workload: merged(phases, workload) for workload in WORKFLOWS}
    bare, real = totals["bare"].throughput, totals["real"].throughput
    ratio = real / bare if bare else 0.0
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
        "ratio": round(ratio, 3),
        "target": TARGET_RATIO,
        "verdict": "PASS" if ratio >= TARGET_RATIO else "FAIL",
        "errors": sum(len(phase.errors) for phase in phases),
    }


def print_table(results: dict[str, Any], out: TextIO) -> None:
    """The results as a table for people."""
    columns = [
        ("workload", "workload", "{}"),
        ("round", "round", "{}"),
        ("workflows", "workflows", "{}"),
        ("errors", "errors", "{}"),
        ("wf/s", "throughput", "{:.1f}"),
        ("p50 ms", "p50_ms", "{:.1f}"),
        ("p90 ms", "p90_ms", "{:.1f}"),
        ("p99 ms", "p99_ms", "{:.1f}"),
        ("app CPU ms/wf", "cpu_ms_per_wf_app", "{:.2f}"),
        ("restate CPU ms/wf", "cpu_ms_per_wf_restate", "{:.2f}"),
        ("client CPU ms/wf", "cpu_ms_per_wf_client", "{:.2f}"),
    ]
    rows = [[fmt.format(row[key]) for _, key, fmt in columns] for row in results["phases"]]
    widths = [
        max(len(title), *(len(row[i]) for row in rows)) for i, (title, _, _) in enumerate(columns)
    ]
    settings = results["settings"]
    print(
        f"provision benchmark: {settings['tenants']} tenants x {settings['rounds']} rounds per "
        f"workload, concurrency {settings['concurrency']}, {settings['partitions']} partition",
        file=out,
    )
    print(
        "  ".join(title.rjust(w) for (title, _, _), w in zip(columns, widths, strict=True)),
        file=out,
    )
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)), file=out)
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


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=300, help="workflows per workload per round")
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight")
    parser.add_argument("--rounds", type=int, default=2, help="bare/real rounds, alternating")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted runs per workload first")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    for name in ("tenants", "concurrency", "rounds", "warmup"):
        if getattr(args, name) < (0 if name == "warmup" else 1):
            parser.error(f"--{name} is too small")
    return args


def start_stack(
    work: Path, stack: contextlib.ExitStack
) -> tuple[LocalRestateServer, dict[str, HttpProcess]]:
    """A restate-server (1 partition, data in `work`) and both deployments, started and
    registered; all stopped when `stack` closes, the server first, so that hypercorn has no
    open Restate connection to drain and exits at once."""
    bin_dir = Path(sys.executable).parent
    deployments = {
        "bare": deployment("bare app", [sys.executable, "-m", "bench.bare_app"], work / "bare.log"),
        "real": deployment(
            "services app",
            [str(bin_dir / "landlord-restate"), "serve", "--bind"],
            work / "real.log",
        ),
    }
    server = LocalRestateServer(
        binary=ensure_restate_server(log=progress), data_dir=work / "restate", partitions=1
    )
    for app in deployments.values():
        stack.callback(app.stop)
    stack.callback(server.stop)
    progress("starting restate-server")
    server.start()
    for app in deployments.values():
        progress(f"starting {app.name}")
        app.start()
        register_deployment(server.admin_url, app.url)
    return server, deployments


def _terminated(_signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so that every started process is stopped."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Set up the server and both deployments, measure, report, and clean up every process."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    with (
        tempfile.TemporaryDirectory(prefix="landlord-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        try:
            server, deployments = start_stack(Path(tmp), stack)
        except Exception as error:  # noqa: BLE001 - any setup failure ends the run the same way
            progress(f"setup failed: {error}")
            return 2
        pids = {
            workload: {
                "app": app.pid,
                "restate": server.pid,
                "client": os.getpid(),
            }
            for workload, app in deployments.items()
        }
        phases = asyncio.run(measure(server.ingress_url, args, pids))
        results = report(phases, journal_sizes(server.admin_url), args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results, sys.stdout)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        progress("interrupted")
        sys.exit(130)
