"""Benchmark: what `RestateProvider` costs over the cheapest Restate calls, and whether status
stays flat. (A script, not a library: its phases read in order, so it stays one file.)

Why: status is the hot path of a control plane (it polls), so the provider must cost little
more than Restate itself, and a status call must not slow down as completed executions pile
up in the server. This starts its own restate-server (temporary data, 1 partition, free
ports) and one deployment, `bench/adapter_app.py` (a Workflow `Echo` whose `run` returns its
input, plus `WorkflowDefinitions` and `ExecutionDeadline`), creates the workflow `echo`
through the provider, then measures two things against that one server:

1. Provider overhead. N executions at concurrency C, each started, then asked for its status
   until terminal, through two arms in alternating rounds:
   - `provider` (the product): `RestateProvider.start_execution`, then
     `get_execution_status` until terminal, as the control plane uses it;
   - `baseline`: one pooled `httpx.AsyncClient` sending the workflow
     (`POST /restate/send/Echo/{name}/run`), then asking the workflow output endpoint
     (`GET /restate/workflow/Echo/{name}/output`) until it stops answering 470: the cheapest
     way to start an execution and learn that it is done, with its output.
   Reported: provider/baseline latency, throughput and status call ratios. There is no
   target: the provider does more on purpose (it checks the stored spec, arms the deadline,
   and returns state, input, history and output).
2. Status flatness. `get_execution_status` of one completed execution, sequentially, with
   `--small` (100) and then `--big` (10,000) completed `Echo` executions in the server (the
   extra ones are started by plain HTTP/1.1 sends over `--fill-concurrency` connections; how
   long that takes, and the CPU it costs, is reported). After each provider call the baseline
   asks the same: the workflow output endpoint, and the execution's `sys_invocation` row by
   id on a kept-open and on a fresh connection (the SQL the status path relies on). The
   verdict is provider big/small for p50 and p99, each <= 1.5x; the design goal is a status
   p99 <= 10 ms at 10k.

    .venv/bin/python -m bench.adapter [--executions 200] [--concurrency 8] [--rounds 3]
        [--big 10000] [--quick] [--json]   (--help for the rest)

Progress goes to stderr, results to stdout. Exit status: 0 when every call succeeded (whether
or not the targets are met: this reports, it does not test), 1 when any call failed or the
measurement broke, 2 when setup failed, 130 when interrupted (Ctrl-C or SIGTERM). Every
started process is stopped in all cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import secrets
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TextIO

import httpx

from bench import harness
from provider import ExecutionInput, ExecutionState, WorkflowSpec
from provider.restate import RestateProvider

WORKFLOW_ID = "echo"
SERVICE = "Echo"
FLATNESS_TARGET = 1.5
STATUS_P99_GOAL_MS = 10.0  # the design goal: status p99 <= 10 ms at 10k executions
EXECUTION_DEADLINE_SECONDS = 60.0
FILL_DEADLINE_SECONDS = 600.0
FILL_POLL_SECONDS = 0.25  # between counts while the fill completes, bounded by the deadline
CALL_TIMEOUT_SECONDS = 30.0
WARMUP_STATUS_CALLS = 10
ARMS = ("provider", "baseline")
SAMPLED = ("provider", "baseline output", "baseline row", "baseline row, new connection")
QUICK = {"executions": 20, "rounds": 1, "warmup": 5, "small": 20, "big": 200, "samples": 50}
COMPLETED_ECHO = (
    f"SELECT count(*) AS n FROM sys_invocation WHERE target_service_name = '{SERVICE}' "
    "AND status = 'completed'"
)
FAILED_ECHO = f"{COMPLETED_ECHO} AND completion_result = 'failure'"
ALL_INVOCATIONS = "SELECT count(*) AS n FROM sys_invocation"
INVOCATION_ID = re.compile(r"^inv_[0-9A-Za-z]+$")


class SetupError(RuntimeError):
    """The workflow could not be created."""


class Baseline:
    """The baseline: the cheapest raw Restate calls for the same questions, one client."""

    def __init__(self, client: httpx.AsyncClient, ingress: str, admin: str) -> None:
        self.client, self.ingress, self.admin = client, ingress, admin

    async def send(self, name: str, payload: Any) -> None:
        """Start `Echo` keyed `name`."""
        url = f"{self.ingress}/restate/send/{SERVICE}/{name}/run"
        (await self.client.post(url, json=payload)).raise_for_status()

    async def output(self, name: str) -> tuple[bool, Any]:
        """(done, output) from the workflow output endpoint; 470 means not done yet."""
        response = await self.client.get(f"{self.ingress}/restate/workflow/{SERVICE}/{name}/output")
        if response.status_code == 470:
            return False, None
        response.raise_for_status()
        return True, response.json()

    async def row(self, invocation_id: str) -> str:
        """The invocation's status from its `sys_invocation` row."""
        if not INVOCATION_ID.fullmatch(invocation_id):
            raise ValueError(f"not an invocation id: {invocation_id!r}")
        sql = f"SELECT status FROM sys_invocation WHERE id = '{invocation_id}'"
        rows = await harness.query_rows(self.client, self.admin, sql)
        return str(rows[0]["status"]) if rows else "missing"

    async def count(self, sql: str) -> int:
        """A `count(*) AS n` query's answer."""
        rows = await harness.query_rows(self.client, self.admin, sql)
        return int(rows[0]["n"]) if rows else 0


def payload_of(name: str) -> dict[str, Any]:
    """The input of one execution (Echo returns it)."""
    return {"name": name, "payload": {"size": "small", "n": 1}}


def arms(provider: RestateProvider, baseline: Baseline, stack: harness.Stack) -> list[harness.Arm]:
    """One execution per arm: start, then status until terminal, recorded into a phase
    (series `start` and `status`: every status call)."""

    async def through_provider(name: str, phase: harness.Phase) -> None:
        payload = payload_of(name)
        started = time.perf_counter()
        result = await provider.start_execution(
            WORKFLOW_ID, ExecutionInput(execution_name=name, input=payload)
        )
        phase.record("start", time.perf_counter() - started)
        deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
        while True:
            asked = time.perf_counter()
            status = await provider.get_execution_status(result.execution_id)
            phase.record("status", time.perf_counter() - asked)
            if status.state.is_terminal:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not terminal after {EXECUTION_DEADLINE_SECONDS}s")
        if status.state is not ExecutionState.SUCCEEDED or status.output != payload:
            raise RuntimeError(f"{name}: {status.state} output {status.output!r}")
        phase.latencies.append(time.perf_counter() - started)

    async def through_baseline(name: str, phase: harness.Phase) -> None:
        payload = payload_of(name)
        started = time.perf_counter()
        await baseline.send(name, payload)
        phase.record("start", time.perf_counter() - started)
        deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
        while True:
            asked = time.perf_counter()
            done, output = await baseline.output(name)
            phase.record("status", time.perf_counter() - asked)
            if done:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not terminal after {EXECUTION_DEADLINE_SECONDS}s")
        if output != payload:
            raise RuntimeError(f"{name}: output {output!r}")
        phase.latencies.append(time.perf_counter() - started)

    pids = stack.pids("app")
    return [
        harness.Arm("provider", through_provider, pids),
        harness.Arm("baseline", through_baseline, pids),
    ]


# -- part 2: status flatness -----------------------------------------------------------------


async def send_over_one_connection(
    host: str, port: int, names: Iterator[str], failures: list[str]
) -> None:
    """`POST /restate/send/Echo/{name}/run` with body `{}` for names taken from the shared
    iterator, one at a time over one kept-open HTTP/1.1 connection.

    Plain asyncio streams rather than httpx: the fill only has to be fast, and httpx costs
    ~5 ms of client CPU per request on 2 busy cores (measured), which made the fill
    client-bound. Answers other than 202 are recorded in `failures`."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for name in names:
            writer.write(
                f"POST /restate/send/{SERVICE}/{name}/run HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".encode()
            )
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            status = int(head.split(" ", 2)[1])
            fields = dict(line.split(":", 1) for line in head.split("\r\n")[1:] if ":" in line)
            if "content-length" in fields:
                body = await reader.readexactly(int(fields["content-length"]))
            else:  # chunked
                body = b""
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    body += (await reader.readexactly(size + 2))[:-2]
                await reader.readuntil(b"\r\n")
            if status != 202:
                failures.append(f"{name}: {status} {body[:200]!r}")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def fill(
    baseline: Baseline, target: int, concurrency: int, stack: harness.Stack
) -> dict[str, Any]:
    """Start trivial `Echo` executions by raw sends until `target` have completed; report how
    many were sent, how long the sends took, how long until all had completed, and the CPU
    each process spent per execution (what limits the rate)."""
    before = await baseline.count(COMPLETED_ECHO)
    needed = max(target - before, 0)
    run_id = secrets.token_hex(3)
    names = iter(f"fill-{run_id}-{i:06d}" for i in range(needed))
    failures: list[str] = []
    harness.progress(f"filling: {before} completed Echo executions, sending {needed} more")
    meter = harness.CpuMeter(stack.pids("app"))
    started = time.perf_counter()
    url = httpx.URL(baseline.ingress)
    sends = (
        send_over_one_connection(url.host, url.port or 80, names, failures)
        for _ in range(concurrency)
    )
    await asyncio.wait_for(asyncio.gather(*sends), FILL_DEADLINE_SECONDS)
    sent_seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} fill sends failed, e.g. {failures[0]}")
    harness.progress(f"filling: {needed} sends in {sent_seconds:.1f}s; waiting for completion")
    deadline = time.monotonic() + FILL_DEADLINE_SECONDS
    while (completed := await baseline.count(COMPLETED_ECHO)) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {completed} of {target} completed in time")
        await asyncio.sleep(FILL_POLL_SECONDS)
    done_seconds = time.perf_counter() - started
    cpu = meter.spent()
    if failed := await baseline.count(FAILED_ECHO):
        raise RuntimeError(f"{failed} Echo executions failed")
    harness.progress(f"filling: {completed} completed after {done_seconds:.1f}s")
    return {
        "sent": needed,
        "concurrency": concurrency,
        "send_seconds": round(sent_seconds, 2),
        "sends_per_second": round(needed / sent_seconds, 1) if sent_seconds else 0.0,
        "all_completed_seconds": round(done_seconds, 2),
        "completed_per_second": round(needed / done_seconds, 1) if done_seconds else 0.0,
        **{
            f"cpu_ms_per_exec_{name}": round(seconds * 1000 / max(needed, 1), 2)
            for name, seconds in cpu.items()
        },
    }


async def until_terminal(provider: RestateProvider, execution_id: str) -> None:
    """Poll the provider until the execution is terminal (bounded by a deadline)."""
    deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
    while not (await provider.get_execution_status(execution_id)).state.is_terminal:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_id} not terminal after {EXECUTION_DEADLINE_SECONDS}s")


async def status_samples(
    provider: RestateProvider,
    baseline: Baseline,
    fresh: Baseline,
    target: tuple[str, str],
    samples: int,
    label: str,
    stack: harness.Stack,
) -> dict[str, Any]:
    """`samples` sequential status calls of one completed execution (`target`: its name and
    id) through the provider, each followed by the baseline's (timed one by one); a few
    uncounted calls first."""
    name, execution_id = target
    timings: dict[str, list[float]] = {series: [] for series in SAMPLED}
    baseline_asks: dict[str, Callable[[], Awaitable[object]]] = {
        "baseline output": lambda: baseline.output(name),
        "baseline row": lambda: baseline.row(execution_id),
        "baseline row, new connection": lambda: fresh.row(execution_id),
    }
    meter = harness.CpuMeter(stack.pids("app"))
    started_all = time.perf_counter()
    for i in range(samples + WARMUP_STATUS_CALLS):
        started = time.perf_counter()
        status = await provider.get_execution_status(execution_id)
        took = {"provider": time.perf_counter() - started}
        if status.state is not ExecutionState.SUCCEEDED:
            raise RuntimeError(f"{execution_id} is {status.state}, expected succeeded")
        for series, ask in baseline_asks.items():
            started = time.perf_counter()
            await ask()
            took[series] = time.perf_counter() - started
        if i >= WARMUP_STATUS_CALLS:
            for series, seconds in took.items():
                timings[series].append(seconds)
    other = meter.spent()["other"]
    other_percent = round(100 * other / ((time.perf_counter() - started_all) * harness.CPUS), 1)
    completed = await baseline.count(COMPLETED_ECHO)
    result: dict[str, Any] = {
        "phase": label,
        "completed_echo": completed,
        "invocations": await baseline.count(ALL_INVOCATIONS),
        "samples": samples,
        "other_cpu_percent": other_percent,
        **{series: harness.quantiles(values) for series, values in timings.items()},
        "stalls": {series: harness.stalls(values) for series, values in timings.items()},
    }
    harness.progress(
        f"status with {completed} completed: provider p50 {result['provider']['p50_ms']} ms, "
        f"p99 {result['provider']['p99_ms']} ms (other processes: {other_percent}% CPU)"
    )
    return result


# -- the run ---------------------------------------------------------------------------------


async def run_all(stack: harness.Stack, args: argparse.Namespace) -> dict[str, Any]:
    """Create the workflow, then: status at `--small`, the overhead rounds, fill to `--big`,
    status at `--big`. Returns the results document."""
    server = stack.server
    provider = harness.provider_for(server, stack.apps["app"].url)
    fresh_connections = httpx.Limits(max_keepalive_connections=0)
    async with (
        httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS, trust_env=False) as client,
        httpx.AsyncClient(
            timeout=CALL_TIMEOUT_SECONDS, trust_env=False, limits=fresh_connections
        ) as once,
    ):
        baseline = Baseline(client, server.ingress_url, server.admin_url)
        fresh = Baseline(once, server.ingress_url, server.admin_url)
        try:
            harness.progress("creating the workflow through the provider")
            spec = WorkflowSpec(
                workflow_id=WORKFLOW_ID, definition={"service": SERVICE, "pass_policy": False}
            )
            try:
                created = await provider.create_workflow(spec)
            except Exception as error:
                raise SetupError(f"create_workflow failed: {error}") from error
            harness.progress(f"created: {created.resource_ids}")

            # The execution whose status is sampled, then the small population around it.
            name = "status-target"
            started = await provider.start_execution(
                WORKFLOW_ID, ExecutionInput(execution_name=name, input={"n": 0})
            )
            target = (name, started.execution_id)
            fill_small = await fill(baseline, args.small, args.fill_concurrency, stack)
            await until_terminal(provider, started.execution_id)
            small = await status_samples(
                provider, baseline, fresh, target, args.samples, "small", stack
            )

            phases = await harness.alternate(
                arms(provider, baseline, stack),
                rounds=args.rounds,
                count=args.executions,
                warmup=args.warmup,
                concurrency=args.concurrency,
            )

            fill_big = await fill(baseline, args.big, args.fill_concurrency, stack)
            big = await status_samples(
                provider, baseline, fresh, target, args.samples, "big", stack
            )
        finally:
            await provider.aclose()
    return report(phases, small, big, {"small": fill_small, "big": fill_big}, args)


def report(
    phases: list[harness.Phase],
    small: dict[str, Any],
    big: dict[str, Any],
    fills: dict[str, dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The results document: phases, merged arms, ratios and verdicts."""
    totals = {arm: harness.merged(phases, arm) for arm in ARMS}
    provider, baseline = totals["provider"], totals["baseline"]

    def big_over_small(series: str) -> dict[str, float]:
        return {
            q: harness.ratio(big[series][f"{q}_ms"], small[series][f"{q}_ms"])
            for q in ("p50", "p99")
        }

    flat = big_over_small("provider")
    return {
        "settings": {
            "executions": args.executions,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "small": args.small,
            "big": args.big,
            "samples": args.samples,
            "fill_concurrency": args.fill_concurrency,
            "partitions": 1,
            "cpus": harness.CPUS,
        },
        "overhead": {
            "phases": [phase.summary() for phase in [*phases, *totals.values()]],
            "latency_ratio": {
                f"p{q}": harness.ratio(
                    harness.percentile(provider.latencies, q / 100),
                    harness.percentile(baseline.latencies, q / 100),
                )
                for q in (50, 90, 99)
            },
            "throughput_ratio": harness.ratio(provider.throughput, baseline.throughput),
            "status_p50_ratio": harness.ratio(
                harness.percentile(provider.series.get("status", []), 0.5),
                harness.percentile(baseline.series.get("status", []), 0.5),
            ),
        },
        "flatness": {
            "fill": fills,
            "small": small,
            "big": big,
            "ratio": flat,
            "baseline_output_ratio": big_over_small("baseline output"),
            "target": f"status big/small <= {FLATNESS_TARGET}x (p50 and p99)",
            "verdict": "PASS" if all(v <= FLATNESS_TARGET for v in flat.values()) else "FAIL",
            "p99_goal_ms": STATUS_P99_GOAL_MS,
            "p99_goal_met": big["provider"]["p99_ms"] <= STATUS_P99_GOAL_MS,
        },
        "errors": sum(len(phase.errors) for phase in phases),
    }


# -- printing --------------------------------------------------------------------------------

PHASE_COLUMNS: list[harness.Column] = [
    ("arm", "arm", "{}"),
    ("round", "round", "{}"),
    ("execs", "runs", "{}"),
    ("errors", "errors", "{}"),
    ("exec/s", "throughput", "{:.1f}"),
    ("p50 ms", "p50_ms", "{:.1f}"),
    ("p90 ms", "p90_ms", "{:.1f}"),
    ("p99 ms", "p99_ms", "{:.1f}"),
    ("start p50", "start_p50_ms", "{:.1f}"),
    ("status p50", "status_p50_ms", "{:.1f}"),
    ("status p99", "status_p99_ms", "{:.1f}"),
    ("status/exec", "status_per_run", "{:.2f}"),
    ("client CPU ms", "cpu_ms_client", "{:.2f}"),
    ("restate CPU ms", "cpu_ms_restate", "{:.2f}"),
    ("app CPU ms", "cpu_ms_app", "{:.2f}"),
    ("other CPU %", "other_cpu_percent", "{:.1f}"),
]


def print_results(results: dict[str, Any], out: TextIO) -> None:
    """The results for people."""
    settings, overhead, flatness = results["settings"], results["overhead"], results["flatness"]
    print(
        f"1. provider overhead: {settings['executions']} executions x {settings['rounds']} "
        f"rounds per arm, concurrency {settings['concurrency']}, start + status until terminal "
        "(baseline: send + the workflow output endpoint)",
        file=out,
    )
    harness.summary_table(overhead["phases"], PHASE_COLUMNS, out)
    lat = overhead["latency_ratio"]
    print(
        f"provider/baseline latency: p50 {lat['p50']:.2f}x, p90 {lat['p90']:.2f}x, p99 "
        f"{lat['p99']:.2f}x; throughput provider/baseline {overhead['throughput_ratio']:.2f}; "
        f"status call p50 provider/baseline {overhead['status_p50_ratio']:.2f}x "
        "(no target: the provider also checks the spec, arms the deadline, returns history)",
        file=out,
    )
    print(file=out)
    for name in ("small", "big"):
        made = flatness["fill"][name]
        print(
            f"fill to {settings[name]}: {made['sent']} raw sends at concurrency "
            f"{made['concurrency']} in {made['send_seconds']}s ({made['sends_per_second']}/s); "
            f"all completed after {made['all_completed_seconds']}s; CPU ms per execution: "
            + ", ".join(
                f"{process} {made[f'cpu_ms_per_exec_{process}']:.2f}"
                for process in ("client", "restate", "app", "other")
            ),
            file=out,
        )
    print(
        f"2. status flatness: {settings['samples']} sequential get_execution_status calls of one "
        "completed execution, each followed by the baseline's calls",
        file=out,
    )
    rows = [
        [
            str(flatness[name]["completed_echo"]),
            str(flatness[name]["invocations"]),
            series,
            *(f"{flatness[name][series][f'p{q}_ms']:.2f}" for q in (50, 90, 99)),
            str(flatness[name]["stalls"][series]),
        ]
        for name in ("small", "big")
        for series in SAMPLED
    ]
    titles = ["completed Echo", "invocations", "what", "p50 ms", "p90 ms", "p99 ms", "stalls"]
    harness.table(rows, titles, out)
    print(
        f"other processes took {flatness['small']['other_cpu_percent']}% / "
        f"{flatness['big']['other_cpu_percent']}% of the CPUs during the small / big samples",
        file=out,
    )
    flat, base = flatness["ratio"], flatness["baseline_output_ratio"]
    print(
        f"provider status big/small: p50 {flat['p50']:.3f}x, p99 {flat['p99']:.3f}x "
        f"(baseline output endpoint: p50 {base['p50']:.3f}x, p99 {base['p99']:.3f}x); "
        f"{flatness['target']}: {flatness['verdict']}",
        file=out,
    )
    print(
        f"design goal, status p99 <= {flatness['p99_goal_ms']:.0f} ms at "
        f"{settings['big']}: {'met' if flatness['p99_goal_met'] else 'not met'} "
        f"({flatness['big']['provider']['p99_ms']:.2f} ms)",
        file=out,
    )
    if results["errors"]:
        print(f"{results['errors']} executions failed (see stderr)", file=out)


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--executions", type=int, default=200, help="per arm per round")
    parser.add_argument("--concurrency", type=int, default=8, help="executions in flight")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the arms, alternating")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted executions per arm")
    parser.add_argument("--small", type=int, default=100, help="completed executions, first")
    parser.add_argument("--big", type=int, default=10_000, help="completed executions, then")
    parser.add_argument("--samples", type=int, default=500, help="status calls per population")
    parser.add_argument("--fill-concurrency", type=int, default=32, help="sends in flight")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = harness.parse_args(parser, argv, QUICK)
    for name in ("executions", "concurrency", "rounds", "small", "samples", "fill_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.big <= args.small:
        parser.error("--big must be larger than --small")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Start the server and the app, measure, report, and stop every process."""
    args = parse_args(argv)
    with harness.workspace("landlord-adapter-bench-") as (work, exit_stack):
        try:
            app = harness.asgi_deployment("adapter app", "bench.adapter_app:app", work)
            stack = harness.start_stack(work, exit_stack, {"app": app})
        except Exception as error:  # noqa: BLE001 - any setup failure ends the run the same way
            harness.progress(f"setup failed: {error}")
            return 2
        try:
            results = asyncio.run(run_all(stack, args))
        except SetupError as error:
            harness.progress(f"setup failed: {error}")
            return 2
        except Exception:  # noqa: BLE001 - reported with its traceback, then a clean exit
            harness.progress(f"measurement failed:\n{traceback.format_exc()}")
            return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_results(results, sys.stdout)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    harness.run_main(main)
