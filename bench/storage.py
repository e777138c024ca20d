"""Benchmark: the storage a finished tenant execution costs Restate while it is retained.

Why: `LANDLORD_SERVICES_RETENTION` (default 30 days) keeps every finished execution's status,
output and journal; the operator sizing Restate's disk needs the cost of one. This starts its
own restate-server (temporary data, 1 partition) with the services and `bench/bare_app.py`,
runs N tenant `provision` workflows (mock compute) and N bare-5 workflows to completion, and
reports the growth of the server's data directory per execution for each, and the ratio.

    .venv/bin/python bench/storage.py [--executions 500]

The figure is the growth of the partition store's table files (RocksDB, compressed), read with
the server stopped so that everything is flushed, divided by the executions. Exit status as
bench/provision.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.provision import CALL_TIMEOUT_SECONDS, progress, run_phase, start_stack
from provider.restate import LocalRestateServer


def table_bytes(server: LocalRestateServer) -> int:
    """Bytes of the partition store's table files (where retained invocations live). Read
    with the server stopped: a graceful stop flushes what it held in memory to tables."""
    return sum(path.stat().st_size for path in server.data_dir.glob("*/db/*.sst"))


async def run_all(server: LocalRestateServer, workload: str, count: int) -> None:
    """Run `count` workflows of `workload` to completion (any failure is an error)."""
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with httpx.AsyncClient(
        timeout=CALL_TIMEOUT_SECONDS, limits=limits, trust_env=False
    ) as client:
        phase = await run_phase(client, server.ingress_url, workload, "measured", count, 8, {})
    if phase.errors:
        raise RuntimeError(f"{len(phase.errors)} {workload} workflows failed")


def measure(server: LocalRestateServer, executions: int) -> dict[str, float]:
    """Table growth per finished execution, per workload (the server restarted between)."""
    asyncio.run(run_all(server, "bare", 20))
    asyncio.run(run_all(server, "real", 20))
    grown: dict[str, float] = {}
    for workload in ("bare", "real"):
        server.stop()
        before = table_bytes(server)
        server.start()
        asyncio.run(run_all(server, workload, executions))
        server.stop()
        grown[workload] = (table_bytes(server) - before) / executions
        server.start()
    return grown


def main(argv: Sequence[str] | None = None) -> int:
    """Set up, measure, print one line per workload and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500, help="workflows per workload")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="landlord-bench-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        try:
            server, _ = start_stack(Path(tmp), stack)
        except Exception as error:  # noqa: BLE001 - any setup failure ends the run the same way
            progress(f"setup failed: {error}")
            return 2
        try:
            grown = measure(server, args.executions)
        except RuntimeError as error:
            progress(str(error))
            return 1
    print(f"storage per finished execution ({args.executions} of each, 1 partition):")
    for workload, label in (("bare", "bare-5 workflow"), ("real", "tenant provision")):
        print(f"  {label:<17} {grown[workload] / 1024:8.1f} KiB")
    ratio = grown["real"] / grown["bare"] if grown["bare"] else float("inf")
    print(f"tenant/bare: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        progress("interrupted")
        sys.exit(130)
