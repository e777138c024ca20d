"""Benchmark: a 10-state ASL machine on Restate against the same steps written by hand.

Why: a definition in Amazon States Language should cost little more on Restate than the
workflow a developer would write for it. This starts its own restate-server (temporary data,
1 partition, free ports) and three processes with the production hypercorn settings: the
product's services app (`landlord-restate serve`, whose `StateMachine` runs the machine), the
hand-written baseline (`bench/asl_app.py`: the same request shaping, branch and five HTTP
calls as durable steps, each after a status write), and the endpoint both arms' Tasks call.
Both arms go through the same blocking ingress call (`/restate/call/<Workflow>/<key>/run`)
with the same client, rounds alternating. It reports throughput, latency and CPU per run of
each process, and the goal as `goal … : met|not met (figures)`.

    .venv/bin/python -m bench.asl [--runs 200] [--concurrency 8] [--rounds 2] [--warmup 20]
        [--quick] [--json]

Exit status: 0 when every call succeeded (whether or not the goal is met: this reports, it
does not test), 1 when any call failed, 2 when setup failed, 130 when interrupted.
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
from bench.asl_app import HAND_SERVICE, TASKS
from provider import WorkflowSpec
from provider.config import RestateSettings
from provider.restate import tenant_workflow_spec
from services.contract import (
    STATE_MACHINE_HANDLER,
    STATE_MACHINE_SERVICE,
    MachineRun,
    machine_key,
)

TARGET_RATIO = 0.7
CALL_TIMEOUT_SECONDS = 120.0
QUICK = {"runs": 20, "rounds": 1, "warmup": 5}
COLUMNS: list[harness.Column] = [
    ("arm", "arm", "{}"),
    ("round", "round", "{}"),
    ("runs", "runs", "{}"),
    ("errors", "errors", "{}"),
    ("runs/s", "throughput", "{:.1f}"),
    ("p50 ms", "p50_ms", "{:.1f}"),
    ("p90 ms", "p90_ms", "{:.1f}"),
    ("p99 ms", "p99_ms", "{:.1f}"),
    ("app CPU ms/run", "cpu_ms_app", "{:.2f}"),
    ("restate CPU ms/run", "cpu_ms_restate", "{:.2f}"),
    ("client CPU ms/run", "cpu_ms_client", "{:.2f}"),
    ("other CPU %", "other_cpu_percent", "{:.1f}"),
]


def _call(step: int, following: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {
            "ApiEndpoint.$": "$.endpoint",
            "Method": "POST",
            "RequestBody": {"step": step},
        },
        "ResultSelector": {"status.$": "$.StatusCode"},
        "ResultPath": f"$.call{step}",
        "Next": following,
    }


MACHINE: dict[str, Any] = {
    "Comment": "10 states: shape, branch, five HTTP calls, merge, succeed.",
    "StartAt": "Plan",
    "States": {
        "Plan": {
            "Type": "Pass",
            "Parameters": {
                "tenant.$": "$.tenant_id",
                "tier.$": "$.tier",
                "endpoint.$": "$.endpoint",
            },
            "Next": "Route",
        },
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.tier", "StringEquals": "refused", "Next": "Refuse"}],
            "Default": "Call1",
        },
        "Refuse": {"Type": "Fail", "Error": "Tenant.Refused"},
        **{
            f"Call{n}": _call(n, f"Call{n + 1}" if n < TASKS else "Merge")
            for n in range(1, TASKS + 1)
        },
        "Merge": {
            "Type": "Pass",
            "Parameters": {
                "tenant.$": "$.tenant",
                "calls.$": "States.Array($.call1.status, $.call2.status, $.call3.status, "
                "$.call4.status, $.call5.status)",
            },
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}
"""Ten states: shape the request, branch, five HTTP calls, merge, succeed (or refuse)."""


def start_stack(work: Path, stack: contextlib.ExitStack) -> harness.Stack:
    """The server, the services app, the hand-written baseline and the endpoint, started."""
    bin_dir = Path(sys.executable).parent
    apps = {
        "asl": harness.deployment(
            "services app", [str(bin_dir / "landlord-restate"), "serve", "--bind"], work
        ),
        "hand": harness.asgi_deployment("hand-written app", "bench.asl_app:app", work),
        "echo": harness.asgi_deployment("echo endpoint", "bench.asl_app:echo", work),
    }
    ready = harness.start_stack(work, stack, apps)
    hand = WorkflowSpec(
        workflow_id="hand-written",
        definition={"service": HAND_SERVICE, "deployment": {"uri": ready.apps["hand"].url}},
    )
    machine = WorkflowSpec(workflow_id="asl-bench", definition=MACHINE)
    specs = [tenant_workflow_spec(RestateSettings(deployment_uri=ready.apps["asl"].url)), hand]
    specs.append(machine)
    harness.progress("creating the workflows through the provider")
    asyncio.run(harness.create_workflows(ready.server, ready.apps["asl"].url, specs))
    return ready


def run_call(client: httpx.AsyncClient, ingress: str, arm: str, endpoint: str) -> harness.Call:
    """One run of `arm` through a blocking ingress call, timed."""

    async def call(name: str, phase: harness.Phase) -> None:
        document = {"tenant_id": name, "tier": "pro", "endpoint": endpoint}
        if arm == "asl":
            key = machine_key("asl-bench", name)
            url = f"{ingress}/restate/call/{STATE_MACHINE_SERVICE}/{key}/{STATE_MACHINE_HANDLER}"
            body: Any = MachineRun(definition=MACHINE, input=document).model_dump(mode="json")
        else:
            url = f"{ingress}/restate/call/{HAND_SERVICE}/{name}/run"
            body = document
        started = time.perf_counter()
        response = await client.post(url, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.text[:300]}")
        if response.json().get("calls") != [200] * TASKS:
            raise RuntimeError(f"unexpected answer {response.text[:300]}")
        phase.latencies.append(time.perf_counter() - started)

    return call


async def measure(stack: harness.Stack, args: argparse.Namespace) -> list[harness.Phase]:
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=args.concurrency
    )
    async with httpx.AsyncClient(
        timeout=CALL_TIMEOUT_SECONDS, limits=limits, trust_env=False
    ) as client:
        endpoint = stack.apps["echo"].url
        arms = [
            harness.Arm(
                name, run_call(client, stack.server.ingress_url, name, endpoint), stack.pids(name)
            )
            for name in ("hand", "asl")
        ]
        return await harness.alternate(
            arms,
            rounds=args.rounds,
            count=args.runs,
            warmup=args.warmup,
            concurrency=args.concurrency,
        )


def report(phases: list[harness.Phase], args: argparse.Namespace) -> dict[str, Any]:
    totals = {arm: harness.merged(phases, arm) for arm in ("hand", "asl")}
    ratio = harness.ratio(totals["asl"].throughput, totals["hand"].throughput)
    return {
        "settings": vars(args),
        "phases": [phase.summary() for phase in phases],
        "totals": {arm: phase.summary() for arm, phase in totals.items()},
        "ratio": ratio,
        "goal": {
            "name": f"a 10-state ASL machine vs the same steps by hand >= {TARGET_RATIO}x",
            "met": ratio >= TARGET_RATIO,
            "figure": f"{ratio:.2f}x ({totals['asl'].throughput:.1f} vs "
            f"{totals['hand'].throughput:.1f} runs/s, c={args.concurrency})",
        },
        "errors": sum(len(phase.errors) for phase in phases),
    }


def print_report(results: dict[str, Any], out: TextIO) -> None:
    harness.summary_table(results["phases"], COLUMNS, out)
    harness.summary_table(list(results["totals"].values()), COLUMNS, out)
    goal = results["goal"]
    print(
        f"goal {goal['name']}: {'met' if goal['met'] else 'not met'} ({goal['figure']})", file=out
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.asl", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=200, help="runs per arm per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a short run (a smoke test)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with harness.workspace("landlord-bench-asl-") as (work, stack):
        try:
            ready = start_stack(work, stack)
        except Exception as error:  # noqa: BLE001 - setup failures are reported in one line
            print(f"setup failed: {error}", file=sys.stderr)
            return 2
        phases = asyncio.run(measure(ready, args))
    results = report(phases, args)
    if args.json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        print_report(results, sys.stdout)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    harness.run_main(main)
