"""Benchmark: the storage a finished tenant execution costs Restate while it is retained.

Why: `LANDLORD_SERVICES_RETENTION` (default 30 days) keeps every finished execution's status,
output and journal; the operator sizing Restate's disk needs the cost of one. This starts the
stack of `bench.provision` (its own restate-server, temporary data, 1 partition; our services
and the baseline `bench/bare_app.py`, registered through the provider), runs N tenant
`provision` workflows (mock compute) and N bare-5 workflows to completion, and reports the
growth of the server's data directory per execution for each, and the ratio.

    .venv/bin/python -m bench.storage [--executions 500] [--quick]

The figure is the growth of the partition store's table files (RocksDB, compressed), read with
the server stopped so that everything is flushed, divided by the executions. Exit status as
bench.provision.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from bench import harness
from bench.provision import client_for, provision_call, start_stack
from local_stack import LocalRestateServer

CONCURRENCY = 8
WARMUP = 20
QUICK = {"executions": 50}


def table_bytes(server: LocalRestateServer) -> int:
    """Bytes of the partition store's table files (where retained invocations live). Read
    with the server stopped: a graceful stop flushes what it held in memory to tables."""
    return sum(path.stat().st_size for path in server.data_dir.glob("*/db/*.sst"))


async def run_all(stack: harness.Stack, workload: str, count: int, label: str) -> None:
    """Run `count` workflows of `workload` to completion (any failure is an error)."""
    async with client_for(CONCURRENCY) as client:
        call = provision_call(client, stack.server.ingress_url, workload)
        arm = harness.Arm(workload, call, stack.pids(workload))
        phase = await harness.run_batch(arm, label, count, CONCURRENCY)
    if phase.errors:
        raise RuntimeError(f"{len(phase.errors)} {workload} workflows failed")


def measure(stack: harness.Stack, executions: int) -> dict[str, float]:
    """Table growth per finished execution, per workload (the server restarted between)."""
    server = stack.server
    for workload in ("bare", "real"):
        asyncio.run(run_all(stack, workload, WARMUP, "warm-up"))
    grown: dict[str, float] = {}
    for workload in ("bare", "real"):
        server.stop()
        before = table_bytes(server)
        server.start()
        asyncio.run(run_all(stack, workload, executions, "measured"))
        server.stop()
        grown[workload] = (table_bytes(server) - before) / executions
        server.start()
    return grown


def main(argv: Sequence[str] | None = None) -> int:
    """Set up, measure, print one line per workload and the ratio."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--executions", type=int, default=500, help="workflows per workload")
    args = harness.parse_args(parser, argv, QUICK)
    if args.executions < 1:
        parser.error("--executions must be at least 1")
    with harness.workspace("landlord-bench-") as (work, exit_stack):
        try:
            stack = start_stack(work, exit_stack)
        except Exception as error:  # noqa: BLE001 - any setup failure ends the run the same way
            harness.progress(f"setup failed: {error}")
            return 2
        try:
            grown = measure(stack, args.executions)
        except RuntimeError as error:
            harness.progress(str(error))
            return 1
    print(f"storage per finished execution ({args.executions} of each, 1 partition):")
    for workload, label in (("bare", "bare-5 workflow"), ("real", "tenant provision")):
        print(f"  {label:<17} {grown[workload] / 1024:8.1f} KiB")
    ratio = grown["real"] / grown["bare"] if grown["bare"] else float("inf")
    print(f"tenant/bare: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    harness.run_main(main)
