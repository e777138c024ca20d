"""Plumbing every benchmark shares: a restate-server and deployments as child processes,
registration through `RestateProvider.create_workflow`, batches of runs at a fixed concurrency
(latency, throughput, CPU per process), percentiles, and tables.

`python -m bench.harness MODULE:APP HOST:PORT` serves an ASGI app (a bench app) under
hypercorn with the settings Restate needs, until SIGTERM or SIGINT.

One module on purpose: every benchmark imports it, and the pieces are small.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import math
import os
import re
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TextIO

import httpx
import psutil

from local_stack import HttpProcess, LocalRestateServer, ensure_restate_server, free_port
from provider import CreateWorkflowResult, WorkflowSpec
from provider.config import RestateSettings
from provider.restate import RestateProvider

REPO_ROOT = Path(__file__).resolve().parents[1]  # the deployments' cwd, for `-m bench.…`
CPUS = os.cpu_count() or 1
STALL_SECONDS = 0.02  # an outlier this much above the median counts as a stall


def progress(message: str) -> None:
    """One progress line on stderr (stdout carries only the results)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- figures ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for reports."""
    return round(seconds * 1000, 2)


def quantiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 in ms (nearest rank), JSON-ready."""
    return {f"p{q}_ms": ms(percentile(values, q / 100)) for q in (50, 90, 99)}


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, rounded (0 when the denominator is 0)."""
    return round(numerator / denominator, 3) if denominator else 0.0


def stalls(values: Sequence[float]) -> int:
    """How many values exceed the median by more than `STALL_SECONDS` (the ~40 ms stall seen
    on kept-open `/query` connections shows up as such outliers)."""
    limit = percentile(values, 0.5) + STALL_SECONDS
    return sum(1 for value in values if value > limit)


# -- CPU -------------------------------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent not idle, all CPUs together."""
    times = psutil.cpu_times()
    # Linux also reports guest time, already part of user time; iowait is idle.
    busy = ("user", "nice", "system", "irq", "softirq", "steal")
    return float(sum(getattr(times, name, 0.0) for name in busy))


class CpuMeter:
    """CPU spent since construction by named processes, and by everything else ("other":
    a concurrent test suite, say, which skews the figures)."""

    def __init__(self, pids: Mapping[str, int | None]) -> None:
        self.pids = dict(pids)
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self.busy_before = busy_seconds()

    def spent(self) -> dict[str, float]:
        """CPU seconds per named process, plus "other"."""
        spent = {name: cpu_seconds(pid) - self.before[name] for name, pid in self.pids.items()}
        spent["other"] = max(busy_seconds() - self.busy_before - sum(spent.values()), 0.0)
        return spent


# -- batches of runs -------------------------------------------------------------------------


@dataclass
class Phase:
    """One batch of runs through one arm: latencies, other timings, errors, time, CPU."""

    arm: str
    round: str
    latencies: list[float] = field(default_factory=list)  # one per successful run
    series: dict[str, list[float]] = field(default_factory=dict)  # e.g. every status call
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def record(self, series: str, seconds: float) -> None:
        """Append one timing to a named series."""
        self.series.setdefault(series, []).append(seconds)

    @property
    def throughput(self) -> float:
        """Successful runs per second of wall time."""
        return len(self.latencies) / self.wall_seconds if self.wall_seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """The figures of this phase, JSON-ready (ms; CPU in ms per successful run)."""
        done = max(len(self.latencies), 1)
        wall = self.wall_seconds * CPUS
        return {
            "arm": self.arm,
            "round": self.round,
            "runs": len(self.latencies),
            "errors": len(self.errors),
            "seconds": round(self.wall_seconds, 3),
            "throughput": round(self.throughput, 1),
            **quantiles(self.latencies),
            **{
                f"{name}_{key}": value
                for name, values in self.series.items()
                for key, value in quantiles(values).items()
            },
            **{f"{name}_per_run": round(len(v) / done, 2) for name, v in self.series.items()},
            **{f"cpu_ms_{name}": round(s * 1000 / done, 2) for name, s in self.cpu_seconds.items()},
            "other_cpu_percent": round(100 * self.cpu_seconds.get("other", 0.0) / wall, 1)
            if wall
            else 0.0,
        }


Call = Callable[[str, Phase], Awaitable[None]]
"""One run under a fresh name: records its latency (and any series) into the phase, or raises."""


@dataclass(frozen=True)
class Arm:
    """A way of doing a run, and the processes whose CPU it is charged."""

    name: str
    call: Call
    pids: Mapping[str, int | None]


async def run_batch(arm: Arm, label: str, count: int, concurrency: int) -> Phase:
    """`count` runs through one arm with `concurrency` in flight; failures are counted."""
    run_id = secrets.token_hex(3)
    tag = label.replace(" ", "").replace("-", "")  # names allow no spaces
    names = iter(f"{arm.name}-{tag}-{run_id}-{i:05d}" for i in range(count))
    phase = Phase(arm.name, label)

    async def worker() -> None:
        for name in names:  # shared iterator: each run goes to exactly one worker
            try:
                await arm.call(name, phase)
            except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                phase.errors.append(f"{name}: {type(error).__name__}: {error}")

    meter = CpuMeter(arm.pids)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.wall_seconds = time.perf_counter() - started
    phase.cpu_seconds = meter.spent()
    progress(
        f"{label} {arm.name}: {len(phase.latencies)} ok, {len(phase.errors)} failed in "
        f"{phase.wall_seconds:.2f}s ({phase.throughput:.1f}/s, p50 "
        f"{ms(percentile(phase.latencies, 0.5))} ms)"
    )
    for error in phase.errors[:3]:
        progress(f"  error: {error}")
    return phase


async def alternate(
    arms: Sequence[Arm], *, rounds: int, count: int, warmup: int, concurrency: int
) -> list[Phase]:
    """Warm every arm up (not returned), then run the arms round by round, the order reversed
    every other round so that no arm always runs first."""
    for arm in arms:
        await run_batch(arm, "warm-up", warmup, concurrency)
    phases = []
    for round_ in range(1, rounds + 1):
        for arm in arms if round_ % 2 else list(reversed(arms)):
            phases.append(await run_batch(arm, f"round {round_}", count, concurrency))
    return phases


def merged(phases: Sequence[Phase], arm: str) -> Phase:
    """All measured rounds of one arm as one phase (throughput = total / total time)."""
    total = Phase(arm, "all")
    for phase in (p for p in phases if p.arm == arm):
        total.wall_seconds += phase.wall_seconds
        total.latencies += phase.latencies
        total.errors += phase.errors
        for name, values in phase.series.items():
            total.series.setdefault(name, []).extend(values)
        for name, seconds in phase.cpu_seconds.items():
            total.cpu_seconds[name] = total.cpu_seconds.get(name, 0.0) + seconds
    return total


# -- tables ----------------------------------------------------------------------------------

Column = tuple[str, str, str]
"""A table column: title, key in a summary, format."""


def table(rows: Sequence[Sequence[str]], titles: Sequence[str], out: TextIO) -> None:
    """Right-aligned columns under their titles."""
    widths = [max(len(title), *(len(row[i]) for row in rows)) for i, title in enumerate(titles)]
    print("  ".join(t.rjust(w) for t, w in zip(titles, widths, strict=True)), file=out)
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), file=out)


def summary_table(
    summaries: Sequence[Mapping[str, Any]], columns: Sequence[Column], out: TextIO
) -> None:
    """One row per summary, one column per (title, key, format); a missing key prints "-"."""
    rows = [
        [fmt.format(row[key]) if key in row else "-" for _, key, fmt in columns]
        for row in summaries
    ]
    table(rows, [title for title, _, _ in columns], out)


# -- processes and registration --------------------------------------------------------------


def deployment(name: str, command: Sequence[str], work: Path) -> HttpProcess:
    """A child process serving a deployment on a free loopback port (`command` gets
    `127.0.0.1:PORT` appended), its output in `work`."""
    address = f"127.0.0.1:{free_port()}"
    return HttpProcess(
        name=name,
        command=[*command, address],
        url=f"http://{address}",
        log_path=work / f"{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log",
        cwd=REPO_ROOT,
    )


def asgi_deployment(name: str, app_ref: str, work: Path) -> HttpProcess:
    """A bench app (`module:attribute`) served by `python -m bench.harness`."""
    return deployment(name, [sys.executable, "-m", "bench.harness", app_ref], work)


@dataclass
class Stack:
    """A started restate-server and deployments."""

    server: LocalRestateServer
    apps: dict[str, HttpProcess]

    def pids(self, app: str) -> dict[str, int | None]:
        """The processes a run through `app` costs CPU in: this client, Restate, the app."""
        return {"client": os.getpid(), "restate": self.server.pid, "app": self.apps[app].pid}


def start_stack(work: Path, stack: contextlib.ExitStack, apps: Mapping[str, HttpProcess]) -> Stack:
    """A restate-server (1 partition, data in `work`) and `apps`, started; all stopped when
    `stack` closes, the server first, so that hypercorn has no Restate connection to drain."""
    server = LocalRestateServer(
        binary=ensure_restate_server(log=progress), data_dir=work / "restate", partitions=1
    )
    for app in apps.values():
        stack.callback(app.stop)
    stack.callback(server.stop)
    progress("starting restate-server")
    server.start()
    for app in apps.values():
        progress(f"starting {app.name}")
        app.start()
    return Stack(server, dict(apps))


def provider_for(server: LocalRestateServer, deployment_uri: str) -> RestateProvider:
    """The product: a `RestateProvider` for this server, registering `deployment_uri`."""
    settings = RestateSettings(
        endpoint=server.ingress_url,
        admin_endpoint=server.admin_url,
        deployment_uri=deployment_uri,
        register_on_startup=False,
    )
    return RestateProvider(settings)


async def create_workflows(
    server: LocalRestateServer, deployment_uri: str, specs: Sequence[WorkflowSpec]
) -> list[CreateWorkflowResult]:
    """Register through the product's one registration path: `create_workflow` per spec."""
    provider = provider_for(server, deployment_uri)
    try:
        return [await provider.create_workflow(spec) for spec in specs]
    finally:
        await provider.aclose()


async def query_rows(client: httpx.AsyncClient, admin_url: str, sql: str) -> list[dict[str, Any]]:
    """Raw `POST /query` (bookkeeping: counts and checks, not the thing measured)."""
    response = await client.post(
        f"{admin_url}/query", json={"query": sql}, headers={"Accept": "application/json"}
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


# -- running a bench -------------------------------------------------------------------------


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, quick: Mapping[str, Any]
) -> argparse.Namespace:
    """Parse with a `--quick` flag that sets small defaults (`quick`); explicit options win."""
    smallest = ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in quick.items())
    parser.add_argument("--quick", action="store_true", help=f"small counts: {smallest}")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[tuple[Path, contextlib.ExitStack]]:
    """A temporary directory and an exit stack that stops every started process."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, contextlib.ExitStack() as stack:
        yield Path(tmp), stack


def _terminated(_signum: int, _frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so that every started process is stopped."""
    raise KeyboardInterrupt


def run_main(main: Callable[[], int]) -> NoReturn:
    """Exit with `main()`'s status, or 130 when interrupted (Ctrl-C or SIGTERM)."""
    signal.signal(signal.SIGTERM, _terminated)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        progress("interrupted")
        sys.exit(130)


# -- serving a bench app ---------------------------------------------------------------------


async def serve(app_ref: str, bind: str) -> None:
    """Serve the ASGI app `module:attribute` on `bind` the way the product serves its own
    (`services.serving`), until SIGTERM or SIGINT."""
    from services.serving import hypercorn_config, serve_until_signalled

    module, _, attribute = app_ref.partition(":")
    app = getattr(importlib.import_module(module), attribute)
    await serve_until_signalled(app, hypercorn_config(bind=bind, app=app_ref))


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))


# -- memory ----------------------------------------------------------------------------------


def rss_bytes(pid: int | None) -> int:
    """The resident set size of a process now (0 when it is gone)."""
    if pid is None:
        return 0
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return 0
