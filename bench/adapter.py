"""Benchmark: what `RestateProvider` adds to Restate's HTTP calls, and whether status stays flat.

Why: status is the hot path of a control plane (it polls), so the adapter must
cost little more than the HTTP calls it makes, and a status call must not slow down as
completed executions pile up in the server. This script starts its own restate-server
(temporary data, 1 partition, free ports) and one deployment, `bench/adapter_app.py` (a
Workflow `Echo` whose `run` returns its input, plus `WorkflowDefinitions`), creates the
workflow `echo` through the provider, then measures two things against that one server:

1. Adapter overhead. N executions at concurrency C, each `start_execution` then
   `get_execution_status` until terminal, through three arms in alternating rounds:
   - `provider`: `RestateProvider`, as the control plane uses it;
   - `raw`: one `httpx.AsyncClient` making exactly the requests the provider makes (start: read
     the stored spec from `WorkflowDefinitions/get`, `send`, the `sys_invocation` row until it
     is visible; status: the row, the `sys_journal` rows, the output when succeeded, and
     once `GET /services/Echo`), parsing their JSON and nothing more;
   - `minimal` (informational): `send`, then `GET /restate/invocation/{id}/output` until it
     stops answering 470: the cheapest way to learn that an execution is done.
   The verdict is provider/raw: latency p50 <= 1.15x, or throughput >= 1/1.15 of raw's.
   (`--raw-clients 2` gives the raw arm one client per endpoint, as the provider has.)
2. Status flatness. `get_execution_status` of one completed execution, sequentially, with
   `--small` (100) and then `--big` (10,000) completed `Echo` executions in the server (the
   extra ones are started by plain HTTP/1.1 sends over `--fill-concurrency` connections; how
   long that takes, and the CPU it costs, is reported). Alongside each provider call the same
   status requests are made raw and timed one by one, plus the row query on a fresh
   connection, to show what dominates. The verdict is big/small for p50 and p99, each <= 1.5x.

    .venv/bin/python bench/adapter.py [--executions 200] [--concurrency 8] [--rounds 3]
        [--big 10000] [--json]   (--help for the rest)

Progress goes to stderr, results to stdout. Exit status: 0 when every call succeeded (whether
or not the targets are met: this reports, it does not test), 1 when any call failed or the
measurement broke, 2 when setup failed, 130 when interrupted (Ctrl-C or SIGTERM). Every
started process is stopped in all cases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import secrets
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import psutil

from provider.config import RestateSettings
from provider.models import ExecutionInput, ExecutionState, WorkflowSpec
from provider.restate import LocalRestateServer, RestateProvider, ensure_restate_server
from provider.restate.admin import sql_string
from provider.restate.provider import _ROW_COLUMNS

try:
    from bench import provision
except ModuleNotFoundError:  # run as `python bench/adapter.py`: bench/ itself is on sys.path
    provision = importlib.import_module("provision")

# Reused from the provision benchmark: the deployment process, CPU times, percentiles, logging.
deployment = provision.deployment
cpu_seconds = provision.cpu_seconds
percentile = provision.percentile
progress = provision.progress

WORKFLOW_ID = "echo"
SERVICE = "Echo"
DEFINITIONS_SERVICE = "WorkflowDefinitions"
OVERHEAD_TARGET = 1.15
FLATNESS_TARGET = 1.5
STATUS_P99_GOAL_MS = 10.0  # the design goal: status p99 <= 10 ms at 10k executions
ROW_VISIBLE_WITHIN = 5.0  # the provider's `_ROW_VISIBLE_WITHIN`
STALL_SECONDS = 0.02  # an outlier this much above the median counts as a stall
ROW_RETRY_SECONDS = 0.02  # the provider's pause between row look-ups while it is not visible
EXECUTION_DEADLINE_SECONDS = 60.0
FILL_DEADLINE_SECONDS = 600.0
FILL_POLL_SECONDS = 0.25
CALL_TIMEOUT_SECONDS = 30.0  # RestateHttp's default
ARMS = ("provider", "raw", "minimal")
CPUS = os.cpu_count() or 1
REQUEST_KINDS = ("spec", "send", "row_sql", "journal_sql", "output", "service", "row_sql_fresh")
COMPLETED_ECHO = (
    "SELECT count(*) AS n FROM sys_invocation WHERE target_service_name = 'Echo' "
    "AND status = 'completed'"
)
FAILED_ECHO = (
    "SELECT count(*) AS n FROM sys_invocation WHERE target_service_name = 'Echo' "
    "AND status = 'completed' AND completion_result = 'failure'"
)
ALL_INVOCATIONS = "SELECT count(*) AS n FROM sys_invocation"


class SetupError(RuntimeError):
    """The server, the deployment or the workflow could not be set up."""


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle, all CPUs together."""
    times = psutil.cpu_times()
    # Linux also reports guest time, already part of user time; iowait is idle.
    busy = ("user", "nice", "system", "irq", "softirq", "steal")
    return float(sum(getattr(times, name, 0.0) for name in busy))


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for reports."""
    return round(seconds * 1000, 2)


def stalls(values: Sequence[float]) -> int:
    """How many values exceed the median by more than `STALL_SECONDS` (the ~40 ms delayed-ACK
    stall on kept-open /query connections shows up as such outliers)."""
    limit = percentile(values, 0.5) + STALL_SECONDS
    return sum(1 for value in values if value > limit)


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 in ms (nearest rank), JSON-ready."""
    return {f"p{q}_ms": ms(percentile(values, q / 100)) for q in (50, 90, 99)}


# -- the raw arms ----------------------------------------------------------------------------


class RawRestate:
    """The provider's HTTP requests made directly with one `httpx.AsyncClient`.

    Each method mirrors one provider method request for request (paths, bodies, headers, the
    SQL text, the wait for the row), so that provider/raw measures the adapter's own cost.
    With `timings`, each request's duration (body read included) is appended under its kind.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        ingress: str,
        admin: str,
        admin_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.client = client
        self.admin_client = admin_client or client
        self.ingress = ingress.rstrip("/")
        self.admin = admin.rstrip("/")
        self.reports_progress: bool | None = None  # the provider remembers it per service

    async def _timed(
        self,
        kind: str,
        timings: dict[str, list[float]] | None,
        request: Awaitable[httpx.Response],
    ) -> httpx.Response:
        started = time.perf_counter()
        response = await request
        if timings is not None:
            timings.setdefault(kind, []).append(time.perf_counter() - started)
        return response

    async def query(
        self, sql: str, kind: str = "sql", timings: dict[str, list[float]] | None = None
    ) -> list[dict[str, Any]]:
        """`POST /query` as `AdminApi.query` sends it."""
        response = await self._timed(
            kind,
            timings,
            self.admin_client.post(
                f"{self.admin}/query",
                json={"query": sql},
                headers={"Accept": "application/json"},
            ),
        )
        response.raise_for_status()
        rows: list[dict[str, Any]] = response.json()["rows"]
        return rows

    def row_sql(self, invocation_id: str) -> str:
        """The provider's `_row` query."""
        return f"SELECT {_ROW_COLUMNS} FROM sys_invocation WHERE id = {sql_string(invocation_id)}"

    def journal_sql(self, invocation_id: str) -> str:
        """The provider's `_journal` query."""
        return (
            "SELECT index, entry_type, name, appended_at, "
            "CASE WHEN index = 0 THEN entry_json END AS input_json FROM sys_journal "
            f"WHERE id = {sql_string(invocation_id)} ORDER BY index"
        )

    async def start(
        self, name: str, body: bytes, timings: dict[str, list[float]] | None = None
    ) -> str:
        """`start_execution`: the stored spec, `send`, then the row until it is visible."""
        spec = await self._timed(
            "spec",
            timings,
            self.client.post(
                f"{self.ingress}/restate/call/{DEFINITIONS_SERVICE}/{WORKFLOW_ID}/get"
            ),
        )
        spec.raise_for_status()
        if not spec.json():
            raise RuntimeError(f"no stored spec for {WORKFLOW_ID}")
        sent = await self._timed(
            "send",
            timings,
            self.client.post(
                f"{self.ingress}/restate/send/{SERVICE}/{name}/run",
                content=body,
                headers={"content-type": "application/json"},
            ),
        )
        sent.raise_for_status()
        invocation_id = str(sent.json()["invocationId"])
        deadline = time.monotonic() + ROW_VISIBLE_WITHIN
        while not await self.query(self.row_sql(invocation_id), "row_sql", timings):
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(ROW_RETRY_SECONDS)  # mirrors the provider's own wait
        return invocation_id

    async def status(
        self, invocation_id: str, timings: dict[str, list[float]] | None = None
    ) -> dict[str, Any]:
        """`get_execution_status`: row, journal, output when succeeded, and the first time only
        the service (for a `status` handler, which `Echo` lacks). Returns the row plus the
        output."""
        rows = await self.query(self.row_sql(invocation_id), "row_sql", timings)
        if not rows:
            raise RuntimeError(f"{invocation_id}: no sys_invocation row")
        row = rows[0]
        await self.query(self.journal_sql(invocation_id), "journal_sql", timings)
        if row.get("status") == "completed" and row.get("completion_result") == "success":
            output = await self._timed(
                "output",
                timings,
                self.client.get(f"{self.ingress}/restate/invocation/{invocation_id}/output"),
            )
            if output.is_success and output.content:
                row = {**row, "output": output.json()}
        if self.reports_progress is None:
            service = await self._timed(
                "service", timings, self.admin_client.get(f"{self.admin}/services/{SERVICE}")
            )
            service.raise_for_status()
            handlers = {handler["name"] for handler in service.json().get("handlers", [])}
            self.reports_progress = "status" in handlers
        return row

    async def minimal_start(self, name: str, body: bytes) -> str:
        """Only `send`."""
        sent = await self.client.post(
            f"{self.ingress}/restate/send/{SERVICE}/{name}/run",
            content=body,
            headers={"content-type": "application/json"},
        )
        sent.raise_for_status()
        return str(sent.json()["invocationId"])

    async def minimal_status(self, invocation_id: str) -> tuple[bool, Any]:
        """Only the output endpoint: (done, output); 470 means not done yet."""
        response = await self.client.get(
            f"{self.ingress}/restate/invocation/{invocation_id}/output"
        )
        if response.status_code == 470:
            return False, None
        response.raise_for_status()
        return True, response.json()


# -- part 1: adapter overhead ----------------------------------------------------------------


@dataclass
class Phase:
    """One batch of executions through one arm: latencies, errors, time, CPU."""

    arm: str
    round: str
    latencies: list[float] = field(default_factory=list)  # start → terminal status seen
    starts: list[float] = field(default_factory=list)
    statuses: list[float] = field(default_factory=list)  # every status call
    requests: dict[str, list[float]] = field(default_factory=dict)  # raw arm, by request kind
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Executions that reached a terminal state per second of wall time."""
        return len(self.latencies) / self.wall_seconds if self.wall_seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures of this phase, JSON-ready (latencies in ms, CPU in ms per execution)."""
        done = max(len(self.latencies), 1)
        return {
            "arm": self.arm,
            "round": self.round,
            "executions": len(self.latencies),
            "errors": len(self.errors),
            "seconds": round(self.wall_seconds, 3),
            "throughput": round(self.throughput, 1),
            **quantiles(self.latencies),
            "start_p50_ms": ms(percentile(self.starts, 0.5)),
            "status_p50_ms": ms(percentile(self.statuses, 0.5)),
            "status_p99_ms": ms(percentile(self.statuses, 0.99)),
            "status_calls_per_execution": round(len(self.statuses) / done, 2),
            **{
                f"cpu_ms_per_exec_{name}": round(seconds * 1000 / done, 2)
                for name, seconds in self.cpu_seconds.items()
            },
            "other_cpu_percent": round(
                100 * self.cpu_seconds.get("other", 0.0) / (self.wall_seconds * CPUS), 1
            )
            if self.wall_seconds
            else 0.0,
        }


def merged(phases: Sequence[Phase], arm: str) -> Phase:
    """All measured rounds of one arm as one phase (throughput = total / total time)."""
    mine = [p for p in phases if p.arm == arm]
    total = Phase(arm, "all", wall_seconds=sum(p.wall_seconds for p in mine))
    for phase in mine:
        total.latencies += phase.latencies
        total.starts += phase.starts
        total.statuses += phase.statuses
        total.errors += phase.errors
        for kind, values in phase.requests.items():
            total.requests.setdefault(kind, []).extend(values)
        for name, seconds in phase.cpu_seconds.items():
            total.cpu_seconds[name] = total.cpu_seconds.get(name, 0.0) + seconds
    return total


Execution = Callable[[str, Phase], Awaitable[None]]


def arms(provider: RestateProvider, raw: RawRestate) -> dict[str, Execution]:
    """One execution (start, then status until terminal) per arm, recorded into a phase."""

    def body_of(name: str) -> dict[str, Any]:
        return {"name": name, "payload": {"size": "small", "n": 1}}

    def encoded(payload: dict[str, Any]) -> bytes:  # exactly `RestateProvider._body`
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    async def through_provider(name: str, phase: Phase) -> None:
        payload = body_of(name)
        started = time.perf_counter()
        result = await provider.start_execution(
            WORKFLOW_ID, ExecutionInput(execution_name=name, input=payload)
        )
        phase.starts.append(time.perf_counter() - started)
        deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
        while True:
            asked = time.perf_counter()
            status = await provider.get_execution_status(result.execution_id)
            phase.statuses.append(time.perf_counter() - asked)
            if status.state.is_terminal:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not terminal after {EXECUTION_DEADLINE_SECONDS}s")
        if status.state is not ExecutionState.SUCCEEDED or status.output != payload:
            raise RuntimeError(f"{name}: {status.state} output {status.output!r}")
        phase.latencies.append(time.perf_counter() - started)

    async def through_raw(name: str, phase: Phase) -> None:
        payload = body_of(name)
        started = time.perf_counter()
        invocation_id = await raw.start(name, encoded(payload), phase.requests)
        phase.starts.append(time.perf_counter() - started)
        deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
        while True:
            asked = time.perf_counter()
            row = await raw.status(invocation_id, phase.requests)
            phase.statuses.append(time.perf_counter() - asked)
            if row.get("status") == "completed":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not terminal after {EXECUTION_DEADLINE_SECONDS}s")
        if row.get("completion_result") != "success" or row.get("output") != payload:
            raise RuntimeError(f"{name}: {row.get('completion_failure')} {row.get('output')!r}")
        phase.latencies.append(time.perf_counter() - started)

    async def through_minimal(name: str, phase: Phase) -> None:
        payload = body_of(name)
        started = time.perf_counter()
        invocation_id = await raw.minimal_start(name, encoded(payload))
        phase.starts.append(time.perf_counter() - started)
        deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
        while True:
            asked = time.perf_counter()
            done, output = await raw.minimal_status(invocation_id)
            phase.statuses.append(time.perf_counter() - asked)
            if done:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not terminal after {EXECUTION_DEADLINE_SECONDS}s")
        if output != payload:
            raise RuntimeError(f"{name}: output {output!r}")
        phase.latencies.append(time.perf_counter() - started)

    return {"provider": through_provider, "raw": through_raw, "minimal": through_minimal}


async def run_phase(
    execute: Execution,
    arm: str,
    label: str,
    count: int,
    concurrency: int,
    pids: dict[str, int | None],
) -> Phase:
    """`count` executions through one arm with `concurrency` in flight."""
    run_id = secrets.token_hex(3)
    tag = label.replace(" ", "").replace("-", "")
    names = iter(f"{arm}-{tag}-{run_id}-{i:05d}" for i in range(count))
    phase = Phase(arm, label)

    async def worker() -> None:
        for name in names:  # shared iterator: each execution goes to exactly one worker
            try:
                await execute(name, phase)
            except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                phase.errors.append(f"{name}: {type(error).__name__}: {error}")

    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = busy_seconds()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.wall_seconds = time.perf_counter() - started
    phase.cpu_seconds = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    # Whatever else ran meanwhile (other processes: a concurrent test suite skews the figures).
    busy = busy_seconds() - busy_before
    phase.cpu_seconds["other"] = max(busy - sum(phase.cpu_seconds.values()), 0.0)
    progress(
        f"{label} {arm}: {len(phase.latencies)} ok, {len(phase.errors)} failed in "
        f"{phase.wall_seconds:.2f}s ({phase.throughput:.1f}/s, p50 "
        f"{ms(percentile(phase.latencies, 0.5))} ms)"
    )
    for error in phase.errors[:3]:
        progress(f"  error: {error}")
    return phase


async def measure_overhead(
    executions: dict[str, Execution], args: argparse.Namespace, pids: dict[str, int | None]
) -> list[Phase]:
    """Warm every arm up, then alternate the arms round by round (the order reversed every
    other round, so that no arm always runs first); warm-up is not returned."""
    for arm in ARMS:
        await run_phase(executions[arm], arm, "warm-up", args.warmup, args.concurrency, pids)
    phases = []
    for round_ in range(1, args.rounds + 1):
        order = ARMS if round_ % 2 else tuple(reversed(ARMS))
        for arm in order:
            phases.append(
                await run_phase(
                    executions[arm], arm, f"round {round_}", args.executions, args.concurrency, pids
                )
            )
    return phases


# -- part 2: status flatness -----------------------------------------------------------------


async def count(raw: RawRestate, sql: str) -> int:
    """A `count(*) AS n` query's answer."""
    rows = await raw.query(sql)
    return int(rows[0]["n"]) if rows else 0


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
    raw: RawRestate, target: int, concurrency: int, pids: dict[str, int | None]
) -> dict[str, Any]:
    """Start trivial `Echo` executions by raw sends until `target` have completed; report how
    many were sent, how long the sends took, how long until all had completed, and the CPU
    each process spent per execution (what limits the rate)."""
    before = await count(raw, COMPLETED_ECHO)
    needed = max(target - before, 0)
    run_id = secrets.token_hex(3)
    names = iter(f"fill-{run_id}-{i:06d}" for i in range(needed))
    failures: list[str] = []
    progress(f"filling: {before} completed Echo executions, sending {needed} more")
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy_before = busy_seconds()
    started = time.perf_counter()
    url = httpx.URL(raw.ingress)
    await asyncio.wait_for(
        asyncio.gather(
            *(
                send_over_one_connection(url.host, url.port or 80, names, failures)
                for _ in range(concurrency)
            )
        ),
        FILL_DEADLINE_SECONDS,
    )
    sent_seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} fill sends failed, e.g. {failures[0]}")
    progress(f"filling: {needed} sends in {sent_seconds:.1f}s; waiting for completion")
    deadline = time.monotonic() + FILL_DEADLINE_SECONDS
    while (completed := await count(raw, COMPLETED_ECHO)) < target:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {completed} of {target} completed in time")
        await asyncio.sleep(FILL_POLL_SECONDS)  # polling interval, bounded by the deadline
    done_seconds = time.perf_counter() - started
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    cpu["other"] = max(busy_seconds() - busy_before - sum(cpu.values()), 0.0)
    failed = await count(raw, FAILED_ECHO)
    if failed:
        raise RuntimeError(f"{failed} Echo executions failed")
    progress(f"filling: {completed} completed after {done_seconds:.1f}s")
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
    raw: RawRestate,
    fresh: RawRestate,
    execution_id: str,
    samples: int,
    label: str,
    pids: dict[str, int | None],
) -> dict[str, Any]:
    """`samples` sequential status calls of one completed execution through the provider,
    each followed by the same requests made raw (timed one by one) and the row query on a
    fresh connection; a few uncounted calls first."""
    timings: dict[str, list[float]] = {}
    provider_latencies: list[float] = []
    raw_latencies: list[float] = []
    ours_before = sum(cpu_seconds(pid) for pid in pids.values())
    busy_before, started_all = busy_seconds(), time.perf_counter()
    for i in range(samples + 10):
        counted = i >= 10
        started = time.perf_counter()
        status = await provider.get_execution_status(execution_id)
        elapsed = time.perf_counter() - started
        if status.state is not ExecutionState.SUCCEEDED:
            raise RuntimeError(f"{execution_id} is {status.state}, expected succeeded")
        started = time.perf_counter()
        await raw.status(execution_id, timings if counted else None)
        raw_elapsed = time.perf_counter() - started
        await fresh.query(
            fresh.row_sql(execution_id), "row_sql_fresh", timings if counted else None
        )
        if counted:
            provider_latencies.append(elapsed)
            raw_latencies.append(raw_elapsed)
    ours = sum(cpu_seconds(pid) for pid in pids.values()) - ours_before
    other = max(busy_seconds() - busy_before - ours, 0.0)
    other_percent = round(100 * other / ((time.perf_counter() - started_all) * CPUS), 1)
    completed = await count(raw, COMPLETED_ECHO)
    invocations = await count(raw, ALL_INVOCATIONS)
    result: dict[str, Any] = {
        "phase": label,
        "completed_echo": completed,
        "invocations": invocations,
        "samples": samples,
        "other_cpu_percent": other_percent,
        "provider": quantiles(provider_latencies),
        "raw": quantiles(raw_latencies),
        "requests": {kind: quantiles(timings[kind]) for kind in REQUEST_KINDS if kind in timings},
        "stalls": {
            "provider": stalls(provider_latencies),
            "raw": stalls(raw_latencies),
            **{kind: stalls(values) for kind, values in timings.items()},
        },
    }
    progress(
        f"status with {completed} completed: provider p50 {result['provider']['p50_ms']} ms, "
        f"p99 {result['provider']['p99_ms']} ms (other processes: {other_percent}% CPU)"
    )
    return result


# -- the run ---------------------------------------------------------------------------------


async def run_all(
    server: LocalRestateServer, app_url: str, args: argparse.Namespace, pids: dict[str, int | None]
) -> dict[str, Any]:
    """Create the workflow, then: status at `--small`, the overhead rounds, fill to `--big`,
    status at `--big`. Returns the results document."""
    settings = RestateSettings(
        endpoint=server.ingress_url,
        admin_endpoint=server.admin_url,
        deployment_uri=app_url,
        register_on_startup=False,
    )
    provider = RestateProvider(settings)
    limits = httpx.Limits(max_keepalive_connections=0)  # a new connection for every request
    async with (
        httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS, trust_env=False) as client,
        httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS, trust_env=False) as second,
        httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS, trust_env=False, limits=limits) as once,
    ):
        # `--raw-clients 2` gives the admin API its own client (pool), as the provider has.
        admin_client = second if args.raw_clients == 2 else None
        raw = RawRestate(client, server.ingress_url, server.admin_url, admin_client)
        fresh = RawRestate(once, server.ingress_url, server.admin_url)
        try:
            progress("creating the workflow through the provider")
            try:
                created = await provider.create_workflow(
                    WorkflowSpec(
                        workflow_id=WORKFLOW_ID,
                        definition={"service": SERVICE, "pass_policy": False},
                    )
                )
            except Exception as error:
                raise SetupError(f"create_workflow failed: {error}") from error
            progress(f"created: {created.resource_ids}")

            # The execution whose status is sampled, then the small population around it.
            target = await provider.start_execution(
                WORKFLOW_ID, ExecutionInput(execution_name="status-target", input={"n": 0})
            )
            fill_small = await fill(raw, args.small, args.fill_concurrency, pids)
            await until_terminal(provider, target.execution_id)
            small = await status_samples(
                provider, raw, fresh, target.execution_id, args.samples, "small", pids
            )

            executions = arms(provider, raw)
            phases = await measure_overhead(executions, args, pids)

            fill_big = await fill(raw, args.big, args.fill_concurrency, pids)
            big = await status_samples(
                provider, raw, fresh, target.execution_id, args.samples, "big", pids
            )
        finally:
            await provider.aclose()
    return report(phases, small, big, {"small": fill_small, "big": fill_big}, args)


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, rounded (0 when the denominator is 0)."""
    return round(numerator / denominator, 3) if denominator else 0.0


def report(
    phases: list[Phase],
    small: dict[str, Any],
    big: dict[str, Any],
    fills: dict[str, dict[str, Any]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The results document: phases, merged arms, request breakdown, ratios and verdicts."""
    totals = {arm: merged(phases, arm) for arm in ARMS}
    provider, raw, minimal = totals["provider"], totals["raw"], totals["minimal"]
    latency_ratios = {
        f"p{q}": ratio(percentile(provider.latencies, q / 100), percentile(raw.latencies, q / 100))
        for q in (50, 90, 99)
    }
    throughput_ratio = ratio(provider.throughput, raw.throughput)
    overhead_pass = (
        latency_ratios["p50"] <= OVERHEAD_TARGET or throughput_ratio >= 1 / OVERHEAD_TARGET
    )
    flat = {
        q: ratio(big["provider"][f"{q}_ms"], small["provider"][f"{q}_ms"]) for q in ("p50", "p99")
    }
    flat_pass = all(value <= FLATNESS_TARGET for value in flat.values())
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
            "raw_clients": args.raw_clients,
            "partitions": 1,
            "cpus": os.cpu_count(),
        },
        "overhead": {
            "phases": [phase.summary() for phase in [*phases, *totals.values()]],
            "raw_requests": {
                kind: {"count": len(values), **quantiles(values)}
                for kind, values in raw.requests.items()
            },
            "latency_ratio": latency_ratios,
            "throughput_ratio": throughput_ratio,
            "status_p50_ratio": ratio(
                percentile(provider.statuses, 0.5), percentile(raw.statuses, 0.5)
            ),
            "provider_vs_minimal_latency_p50": ratio(
                percentile(provider.latencies, 0.5), percentile(minimal.latencies, 0.5)
            ),
            "provider_vs_minimal_throughput": ratio(provider.throughput, minimal.throughput),
            "target": f"adapter overhead ratio <= {OVERHEAD_TARGET}x",
            "verdict": "PASS" if overhead_pass else "FAIL",
        },
        "flatness": {
            "fill": fills,
            "small": small,
            "big": big,
            "ratio": flat,
            "target": f"status big/small <= {FLATNESS_TARGET}x (p50 and p99)",
            "verdict": "PASS" if flat_pass else "FAIL",
            "p99_goal_ms": STATUS_P99_GOAL_MS,
            "p99_goal_met": big["provider"]["p99_ms"] <= STATUS_P99_GOAL_MS,
        },
        "errors": sum(len(phase.errors) for phase in phases),
    }


# -- printing --------------------------------------------------------------------------------


def table(rows: list[list[str]], titles: list[str], out: TextIO) -> None:
    """Right-aligned columns."""
    widths = [max(len(title), *(len(row[i]) for row in rows)) for i, title in enumerate(titles)]
    print("  ".join(t.rjust(w) for t, w in zip(titles, widths, strict=True)), file=out)
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), file=out)


def print_results(results: dict[str, Any], out: TextIO) -> None:
    """The results for people."""
    settings, overhead, flatness = results["settings"], results["overhead"], results["flatness"]
    print(
        f"1. adapter overhead: {settings['executions']} executions x {settings['rounds']} rounds "
        f"per arm, concurrency {settings['concurrency']}, start + status until terminal",
        file=out,
    )
    columns = [
        ("arm", "arm", "{}"),
        ("round", "round", "{}"),
        ("execs", "executions", "{}"),
        ("errors", "errors", "{}"),
        ("exec/s", "throughput", "{:.1f}"),
        ("p50 ms", "p50_ms", "{:.1f}"),
        ("p90 ms", "p90_ms", "{:.1f}"),
        ("p99 ms", "p99_ms", "{:.1f}"),
        ("start p50", "start_p50_ms", "{:.1f}"),
        ("status p50", "status_p50_ms", "{:.1f}"),
        ("status p99", "status_p99_ms", "{:.1f}"),
        ("status/exec", "status_calls_per_execution", "{:.2f}"),
        ("client CPU ms", "cpu_ms_per_exec_client", "{:.2f}"),
        ("restate CPU ms", "cpu_ms_per_exec_restate", "{:.2f}"),
        ("app CPU ms", "cpu_ms_per_exec_app", "{:.2f}"),
        ("other CPU %", "other_cpu_percent", "{:.1f}"),
    ]
    table(
        [[fmt.format(row[key]) for _, key, fmt in columns] for row in overhead["phases"]],
        [title for title, _, _ in columns],
        out,
    )
    print("raw arm, per request (all rounds):", file=out)
    table(
        [
            [
                kind,
                str(v["count"]),
                f"{v['p50_ms']:.2f}",
                f"{v['p90_ms']:.2f}",
                f"{v['p99_ms']:.2f}",
            ]
            for kind, v in overhead["raw_requests"].items()
        ],
        ["request", "count", "p50 ms", "p90 ms", "p99 ms"],
        out,
    )
    lat = overhead["latency_ratio"]
    print(
        f"provider/raw latency: p50 {lat['p50']:.3f}x, p90 {lat['p90']:.3f}x, p99 "
        f"{lat['p99']:.3f}x; throughput provider/raw {overhead['throughput_ratio']:.3f} "
        f"(target <= {OVERHEAD_TARGET}x latency or >= {1 / OVERHEAD_TARGET:.3f} throughput); "
        f"status call p50 provider/raw {overhead['status_p50_ratio']:.3f}x",
        file=out,
    )
    print(
        f"informational: provider vs minimal (send + output endpoint): latency p50 "
        f"{overhead['provider_vs_minimal_latency_p50']:.2f}x, throughput "
        f"{overhead['provider_vs_minimal_throughput']:.2f}",
        file=out,
    )
    print(f"{overhead['target']}: {overhead['verdict']}", file=out)
    print(file=out)
    for name in ("small", "big"):
        made = flatness["fill"][name]
        print(
            f"fill to {settings[name]}: {made['sent']} raw sends at concurrency "
            f"{made['concurrency']} in {made['send_seconds']}s ({made['sends_per_second']}/s); "
            f"all completed after {made['all_completed_seconds']}s; CPU ms per execution: "
            + ", ".join(
                f"{name} {made[f'cpu_ms_per_exec_{name}']:.2f}"
                for name in ("client", "restate", "app", "other")
            ),
            file=out,
        )
    print(
        f"2. status flatness: {settings['samples']} sequential get_execution_status calls of one "
        "completed execution",
        file=out,
    )
    rows = []
    for name in ("small", "big"):
        phase = flatness[name]
        measured = [("provider", phase["provider"]), ("raw total", phase["raw"])]
        measured += [(f"raw {kind}", values) for kind, values in phase["requests"].items()]
        for label, values in measured:
            kind = label.removeprefix("raw ")
            stalled = phase["stalls"].get("raw" if label == "raw total" else kind, "")
            rows.append(
                [
                    str(phase["completed_echo"]),
                    str(phase["invocations"]),
                    label,
                    f"{values['p50_ms']:.2f}",
                    f"{values['p90_ms']:.2f}",
                    f"{values['p99_ms']:.2f}",
                    str(stalled),
                ]
            )
    table(
        rows,
        ["completed Echo", "invocations", "what", "p50 ms", "p90 ms", "p99 ms", "stalls"],
        out,
    )
    print(
        f"other processes took {flatness['small']['other_cpu_percent']}% / "
        f"{flatness['big']['other_cpu_percent']}% of the CPUs during the small / big samples",
        file=out,
    )
    flat = flatness["ratio"]
    print(
        f"provider status big/small: p50 {flat['p50']:.3f}x, p99 {flat['p99']:.3f}x; "
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=200, help="per arm per round")
    parser.add_argument("--concurrency", type=int, default=8, help="executions in flight")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the arms, alternating")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted executions per arm")
    parser.add_argument("--small", type=int, default=100, help="completed executions, first")
    parser.add_argument("--big", type=int, default=10_000, help="completed executions, then")
    parser.add_argument("--samples", type=int, default=500, help="status calls per population")
    parser.add_argument("--fill-concurrency", type=int, default=32, help="sends in flight")
    parser.add_argument(
        "--raw-clients",
        type=int,
        choices=(1, 2),
        default=1,
        help="raw arm: one client for both endpoints, or one per endpoint like the provider",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    for name in ("executions", "concurrency", "rounds", "small", "samples", "fill_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.big <= args.small:
        parser.error("--big must be larger than --small")
    return args


def _terminated(_signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so that every started process is stopped."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Start the server and the app, measure, report, and stop every process."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    with (
        tempfile.TemporaryDirectory(prefix="landlord-adapter-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        work = Path(tmp)
        app = deployment(
            "adapter app", [sys.executable, "-m", "bench.adapter_app"], work / "app.log"
        )
        try:
            server = LocalRestateServer(
                binary=ensure_restate_server(log=progress), data_dir=work / "restate", partitions=1
            )
            # Stopped in reverse: the server first, so that hypercorn has no open Restate
            # connection to drain and exits at once.
            stack.callback(app.stop)
            stack.callback(server.stop)
            progress("starting restate-server")
            server.start()
            progress("starting the adapter app")
            app.start()
        except Exception as error:  # noqa: BLE001 - any setup failure ends the run the same way
            progress(f"setup failed: {error}")
            return 2
        pids = {
            "client": os.getpid(),
            "restate": server.pid,
            "app": app.pid,
        }
        try:
            results = asyncio.run(run_all(server, app.url, args, pids))
        except SetupError as error:
            progress(f"setup failed: {error}")
            return 2
        except Exception:  # noqa: BLE001 - reported with its traceback, then a clean exit
            progress(f"measurement failed:\n{traceback.format_exc()}")
            return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_results(results, sys.stdout)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        progress("interrupted")
        sys.exit(130)
