"""Crash at every step: kill -9 the services process at each entry k of an operation's journal.

For each operation of `TenantProvisioning` on the `local` backend (real OS processes), the test
first runs the operation once uncrashed and reads its journal from the admin SQL API
(`sys_journal`). Then, until every kill point k of that journal has had its crash, a fresh
execution on a fresh tenant (update and delete get theirs provisioned first, uncrashed) is
driven until the lowest k not yet crashed at is journaled, the services process is SIGKILLed
and started again; and for every execution, crashed or not, the test proves that:

- the operation completes successfully (its workflow output), with no compensation event and
  exactly the operation's two transitions in its live status;
- each side effect happened exactly once, counted outside the killed process, from the tenant
  processes themselves: provision leaves one healthy process serving the desired settings, and
  it is the very process any crash saw (the re-run step adopted it, it did not start another);
  update leaves one process serving the new settings on the same port, again the one a crash
  saw once it existed; delete leaves none;
- nothing leaked: the tenant's `TenantLock` holder is cleared and no tenant has a stray process.

How a kill lands at k. The journal grows in bursts (the SDK writes a state update and the next
step's command at once, Restate adds a call's invocation id at once, a step's round trip takes
a fraction of a millisecond), so a poll of a free-running process lands tens of
milliseconds late. Instead, once a run is within 8 entries of k, the services process is frozen
(SIGSTOP) and run in 0.5 ms slices (SIGCONT, 0.5 ms, SIGSTOP), the journal read after each; the
first frozen look that shows entry k and no output is followed by SIGKILL. That crash counts,
once Restate has noticed it, if the journal still holds no output, for every kill point the run
journaled in that one slice: (previous look, L], L the journal's last index at the crash. So a
kill point is never credited to a crash that came later than the slice that journaled it, and
L > k only where the entries after k were journaled in the same slice (mostly one write of the
SDK's; the widest slice seen held 6 entries). The intervals are in the test's `crash_matrix`
user property (`crashes`). A run that went past k between two looks while it ran free
is left to end, and k is approached in slices from the start next time. Every k gets its crash
or the test fails. (The 0.5 ms sleep is the length of a slice, not a wait for some state: every
wait in this module polls with a deadline.)

Which k. Kill points are 1 .. the last notification the run waited for (a step's result, a
timer, a call's reply). After it the SDK writes its closing entries (status, the lock release,
the output) in one go: they become visible together with the output, so no crash can fall
between them and the end. They are not kill points, and the test does not pretend otherwise.

Health checks, made deterministic. How many `health check N` steps a provision or update takes
depends on when the tenant answers, so the tenant here is a small app of this module's (the
local backend runs it like any tenant command) that answers /health 503 until the test opens
its gate, a file, which the test does once the journal holds the sleep after the first check:
every uncrashed run has exactly two checks, a failed one and a healthy one, and the same
journal. The gate opens at once for a run that was crashed. Should a run still end before its k
(a shorter journal), k counts as not reached and is tried again; a fourth such miss for one k
fails the test.

In parallel, where it is safe. A SIGKILL crashes every execution in flight, and executions
started together sit at the same entry when it lands, so a batch of fresh runs mostly repeats one
kill point; a batch variant needed about twice the kills. So one fresh run at a time is driven to
the lowest kill point not yet crashed at, while the runs crashed before it recover in parallel
(Restate retries them in its backoff) and are crashed again by later kills if they are in
flight: extra crashes, after which they must still end correctly. At the end, runs and lock
releases still in Restate's backoff are resumed (`PATCH /invocations/{id}/resume`, none may be
paused) instead of waiting up to 30 s, and every run is checked.

With secrets. Every run's env holds a password and the gates' directory, sealed the way the
provider seals them (under the session's keyring, which the services hold too): the `check
secrets` step is a kill point like any other, and each tenant process must get the password
opened.

Measured on the 2-core machine: journals of 23 (provision), 26 (update) and 12 (delete)
entries; 18 + 21 + 7 = 46 kill points, crashed at with 10, 14 and 4 SIGKILLs; the three tests
took 61 s together (provision 18.5 s, update 28 s, delete 6 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from local_stack import LocalRestateServer
from sealing import Keyring, seal_secrets
from services.compute import LocalBackend, TenantRef
from services.compute.tenant_app import SETTINGS_ENV, TENANT_ENV

from .test_crash_recovery import CrashStack
from .test_operations import key
from .test_operations import request as workflow_request


def sealed(request: dict[str, Any], execution: str) -> Any:
    """The request as the provider sends it: its secrets (every env value) sealed under the
    keyring the services hold too (this session's)."""
    return seal_secrets(request, keyring=Keyring.from_environment(), execution=execution)


SLICE_SECONDS = 0.0005
"""How long the services process runs between two frozen looks at the journal."""
NEAR_ENTRIES = 8
"""A run further than this from its kill point runs free (looked at, never killed)."""
MAX_EARLY_FINISHES = 3
"""Runs per kill point that may end before reaching it (a shorter journal)."""
MATRIX_SECONDS = 80.0
"""Deadline for the kill loop of one operation."""
REFERENCE_SECONDS = 30.0
SETTLE_SECONDS = 10.0
FINISH_SECONDS = 60.0
POOL_MIN = 8

GATE_ENV = "CRASH_MATRIX_GATES"
GATED_TENANT = f"""
import os
from services.compute import tenant_app

gate = os.path.join(os.environ[{GATE_ENV!r}], os.environ[{TENANT_ENV!r}])

class Gated(tenant_app.TenantHandler):
    def ready(self):
        return os.path.exists(gate)

tenant_app.main(["--port", os.environ["PORT"]], handler=Gated)
"""
"""A tenant that answers /health 503 until its gate file exists (SIGTERM ends it)."""

PASSWORD = "crash-matrix-password"
"""A secret of every run's env: sealed at the start, it must reach each tenant process opened."""
BEFORE = {"plan": "silver", "v": 1}
AFTER = {"plan": "gold", "v": 2}
PHASES = {
    "provision": ["provisioning", "ready"],
    "update": ["updating", "ready"],
    "delete": ["deleting", "archived"],
}


def tenant_processes(backend: LocalBackend, tenant: str) -> dict[int, Any]:
    """The tenant's live processes: pid → the settings it was started with (from its own
    environment), or a note that its sealed secret did not reach it opened."""
    found: dict[int, Any] = {}
    for process in backend.processes(TenantRef(tenant_id=tenant)):
        try:
            environ = process.environ()
        except psutil.NoSuchProcess:
            continue
        settings = json.loads(environ.get(SETTINGS_ENV) or "null")
        opened = environ.get("DB_PASSWORD") == PASSWORD
        found[process.pid] = settings if opened else {"secret": "not opened"}
    return found


def sql_list(values: list[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def kill_points(journal: list[dict[str, Any]]) -> list[int]:
    """1 .. the last notification the run waited for; what follows is written with the output."""
    assert journal[-1]["entry_type"] == "Command: Output", journal
    waited = [
        row["index"]
        for row in journal
        if str(row["entry_type"]).startswith("Notification:")
        and row["entry_type"] != "Notification: CallInvocationId"
    ]
    closing = journal[max(waited) + 1 :]
    assert len(closing) <= 5, f"unexpectedly long closing write: {closing}"
    return list(range(1, max(waited) + 1))


@dataclass
class Tip:
    """Where one execution's journal is."""

    last: int = -1
    done: bool = False
    """The output is journaled."""
    waiting: bool = False
    """It journaled a sleep other than the deadline: the wait after a failed health check."""


@dataclass
class Execution:
    """One run of the operation: its tenant, workflow key, invocation id, the kill point it
    was started for (None: the reference run), and what each crash under it saw."""

    tenant: str
    key: str
    invocation: str
    target: int | None = None
    kills: list[int] = field(default_factory=list)
    """The journal's last index each time the services process died under this run."""
    seen: list[dict[int, Any]] = field(default_factory=list)
    """The tenant's processes at each of those crashes."""
    done: bool = False


@dataclass
class Matrix:
    """What one operation's matrix did, for its assertions and its report."""

    operation: str
    journal: list[dict[str, Any]]
    targets: list[int]
    reached: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Kill point k → (the last index at the look before, the last index at the crash)."""
    sigkills: int = 0
    jumped: int = 0
    """Runs that ran past their kill point between two looks while running free."""
    executions: int = 0
    crashes_per_execution: int = 0
    early_finishes: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        overshoot = [last - k for k, (_, last) in self.reached.items()]
        spans_at = list(self.reached.values())
        spans = [last - before for before, last in spans_at]
        return {
            "operation": self.operation,
            "journal_length": len(self.journal),
            "kill_points": len(self.targets),
            "sigkills": self.sigkills,
            "executions": self.executions,
            "most_crashes_of_one_execution": self.crashes_per_execution,
            "killed_exactly_at_k": sum(1 for gap in overshoot if gap == 0),
            "max_overshoot": max(overshoot, default=0),
            "most_entries_in_one_slice": max(spans, default=0),
            "early_finishes": sum(self.early_finishes.values()),
            "jumped": self.jumped,
            "seconds": round(self.seconds, 1),
            "crashes": [f"{before + 1}..{last}" for before, last in sorted(set(spans_at))],
        }


class CrashRunner:
    """Drives one operation's matrix against a services process it freezes, steps and kills."""

    def __init__(self, stack: CrashStack, operation: str, gates: Path) -> None:
        self.stack = stack
        self.client = stack.client
        self.operation = operation
        self.gates = gates
        self.executions: list[Execution] = []
        self.pool: list[str] = []
        self.endpoints: dict[str, dict[str, str]] = {}
        """Provisioned tenant → its endpoints then (update keeps the port)."""
        self.frozen = False
        self.sigkills = 0

    def config(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The tenant's config: its env (secrets, sealed at the start) names the gates."""
        command = [sys.executable, "-c", GATED_TENANT]
        env = {GATE_ENV: str(self.gates), "DB_PASSWORD": PASSWORD}
        return {"command": command, "env": env, "settings": settings}

    def open_gate(self, tenant: str) -> None:
        (self.gates / tenant).touch()

    # -- the services process --------------------------------------------------------------

    def _group(self) -> int:
        pid = self.stack.services.process.pid
        assert pid is not None, "the services process is not running"
        return pid

    def freeze(self) -> None:
        os.killpg(self._group(), signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen and self.stack.services.process.running:
            os.killpg(self._group(), signal.SIGCONT)
        self.frozen = False

    def step(self) -> None:
        """Let the frozen services process run for one slice (a slice, not a wait for state)."""
        self.thaw()
        time.sleep(SLICE_SECONDS)
        self.freeze()

    # -- Restate's view -------------------------------------------------------------------

    def tips(self, executions: list[Execution]) -> dict[str, Tip]:
        if not executions:
            return {}
        rows = self.client.query(
            "SELECT id, max(index) AS last, "
            "max(CASE WHEN entry_type = 'Command: Output' THEN 1 ELSE 0 END) AS done, "
            "max(CASE WHEN entry_type = 'Command: Sleep' AND coalesce(name, '') <> 'deadline' "
            "THEN 1 ELSE 0 END) AS waiting "
            f"FROM sys_journal WHERE id IN ({sql_list([e.invocation for e in executions])}) "
            "GROUP BY id"
        )
        found = {
            row["id"]: Tip(int(row["last"]), bool(row["done"]), bool(row["waiting"]))
            for row in rows
        }
        return {e.invocation: found.get(e.invocation, Tip()) for e in executions}

    def statuses(self, executions: list[Execution]) -> dict[str, str]:
        if not executions:
            return {}
        rows = self.client.query(
            "SELECT id, status FROM sys_invocation "
            f"WHERE id IN ({sql_list([e.invocation for e in executions])})"
        )
        return {row["id"]: str(row["status"]) for row in rows}

    def journal(self, execution: Execution) -> list[dict[str, Any]]:
        return self.client.query(
            "SELECT index, entry_type, name, appended_at FROM sys_journal "
            f"WHERE id = '{execution.invocation}' ORDER BY index"
        )

    # -- executions -----------------------------------------------------------------------

    def provision_pool(self, count: int) -> None:
        """Provision `count` fresh tenants, uncrashed, for update and delete to work on."""
        was_frozen = self.frozen
        self.thaw()
        started = {}
        for _ in range(count):
            tenant = f"cm-{uuid.uuid4().hex[:10]}"
            self.open_gate(tenant)
            execution = key(tenant, "provision")
            request = workflow_request(tenant, "provision", desired_config=self.config(BEFORE))
            self.client.send(execution, sealed(request, execution))
            started[tenant] = execution
        for tenant, execution in started.items():
            response = self.client.attach(execution)
            assert response.status_code == 200, f"provisioning {tenant}: {response.text}"
            self.endpoints[tenant] = response.json()["endpoints"]
        self.client.wait_unlocked(*started)  # so an operation never queues behind its provision
        self.pool.extend(started)
        if was_frozen:
            self.freeze()

    def start(self, target: int | None) -> Execution:
        """Start the operation on a fresh tenant (provisioned already, for update and delete)."""
        if self.operation == "provision":
            tenant = f"cm-{uuid.uuid4().hex[:10]}"
        else:
            assert self.pool, "no provisioned tenant left"
            tenant = self.pool.pop()
        (self.gates / tenant).unlink(missing_ok=True)  # its next process starts unhealthy
        fields = {} if self.operation == "delete" else {"desired_config": self.config(AFTER)}
        execution_key = key(tenant, self.operation)
        request = workflow_request(tenant, self.operation, **fields)
        invocation = self.client.send(execution_key, sealed(request, execution_key))
        execution = Execution(tenant, execution_key, invocation, target)
        self.executions.append(execution)
        return execution

    def advance(self, execution: Execution) -> Tip:
        """Where the run is now; opens its tenant's gate once it waits after a health check."""
        tip = self.tips([execution])[execution.invocation]
        if tip.waiting:
            self.open_gate(execution.tenant)
        return tip

    # -- a crash -----------------------------------------------------------------------------

    def crash(self) -> dict[str, int]:
        """SIGKILL the frozen services process and start it again (frozen). Returns invocation
        id → the journal's last index, for each run that was in flight and had not finished."""
        unfinished = [e for e in self.executions if not e.done]
        status = self.statuses(unfinished)
        for execution in unfinished:
            execution.done = status.get(execution.invocation) == "completed"
        in_flight = [e for e in unfinished if status.get(e.invocation) == "running"]
        self.stack.services.kill()
        self.frozen = False
        self.sigkills += 1
        deadline = time.monotonic() + SETTLE_SECONDS
        while "running" in self.statuses(in_flight).values():
            assert time.monotonic() < deadline, "Restate never noticed the crash"
        killed: dict[str, int] = {}
        tips = self.tips(in_flight)
        for execution in in_flight:
            tip = tips[execution.invocation]
            if tip.done:  # its output was already on the wire: it finished, no crash for it
                execution.done = True
                continue
            execution.kills.append(tip.last)
            execution.seen.append(tenant_processes(self.stack.backend, execution.tenant))
            killed[execution.invocation] = tip.last
            self.open_gate(execution.tenant)
        self.stack.services.start()
        self.freeze()
        return killed

    # -- the matrix ---------------------------------------------------------------------------

    def learn(self) -> list[dict[str, Any]]:
        """The journal of one uncrashed run, driven in slices like every other run."""
        execution = self.start(None)
        deadline = time.monotonic() + REFERENCE_SECONDS
        self.freeze()
        try:
            while not self.advance(execution).done:
                assert time.monotonic() < deadline, f"uncrashed {self.operation} never ended"
                self.step()
        finally:
            self.thaw()
        response = self.client.attach(execution.key)
        assert response.status_code == 200, f"uncrashed {self.operation}: {response.text}"
        execution.done = True
        return self.journal(execution)

    def run(self) -> Matrix:
        started = time.monotonic()
        if self.operation != "provision":
            self.provision_pool(POOL_MIN)
        journal = self.learn()
        matrix = Matrix(self.operation, journal, kill_points(journal))
        uncovered = set(matrix.targets)
        in_slices: set[int] = set()
        """Kill points a free-running approach jumped past: approached in slices from the start."""
        fresh: Execution | None = None
        previous = 0
        deadline = time.monotonic() + MATRIX_SECONDS
        self.freeze()
        try:
            while uncovered:
                assert time.monotonic() < deadline, (
                    f"{self.operation}: kill points never reached: {sorted(uncovered)}; "
                    + self._stalled(matrix, fresh, previous)
                )
                if fresh is None:
                    if self.operation != "provision" and not self.pool:
                        self.provision_pool(max(POOL_MIN, len(uncovered) // 2))
                    self.freeze()  # nothing but its input (entry 0) is journaled before a slice
                    fresh, previous = self.start(min(uncovered)), 0
                target = fresh.target
                assert target is not None
                near = target in in_slices or target - previous <= NEAR_ENTRIES
                sliced = near and self.frozen
                """This look is one slice after the last, both frozen: a kill may follow it."""
                if sliced:
                    self.step()
                elif near:
                    self.freeze()  # from a free run: a frozen look first
                else:
                    self.thaw()
                tip = self.advance(fresh)
                if tip.done and (sliced or tip.last < target):
                    self._missed(matrix, fresh)
                    fresh = None
                elif tip.last >= target and not sliced:  # it ran past k between two looks
                    in_slices.add(target)
                    matrix.jumped += 1
                    fresh = None  # it runs on, and ends (or is crashed) like any other
                elif tip.last >= target:
                    last = self.crash().get(fresh.invocation)
                    if fresh.done:  # its output was on the wire: it ended before the kill
                        self._missed(matrix, fresh)
                    elif last is not None:
                        for k in range(previous + 1, last + 1):  # all it journaled in the slice
                            if k in uncovered:
                                uncovered.discard(k)
                                matrix.reached[k] = (previous, last)
                    fresh = None  # (not in flight at the kill: its k is simply tried again)
                else:
                    previous = tip.last
        finally:
            self.thaw()
        matrix.sigkills = self.sigkills
        matrix.executions = len(self.executions)
        matrix.crashes_per_execution = max(len(e.kills) for e in self.executions)
        matrix.seconds = time.monotonic() - started
        return matrix

    def _stalled(self, matrix: Matrix, fresh: Execution | None, previous: int) -> str:
        """What a matrix out of time was doing, for whoever reads the failure."""
        doing = f"reached {sorted(matrix.reached)} with {self.sigkills} kills, {matrix.jumped} "
        doing += f"jumped, services {'frozen' if self.frozen else 'running'}"
        if fresh is None:
            return doing
        rows = self.client.query(
            "SELECT status, retry_count, last_failure FROM sys_invocation "
            f"WHERE id = '{fresh.invocation}'"
        )
        return f"{doing}; the run for entry {fresh.target} at entry {previous}: {rows}"

    def _missed(self, matrix: Matrix, execution: Execution) -> None:
        """The run ended before its kill point: its journal was shorter than the reference."""
        assert execution.target is not None
        execution.done = True
        matrix.early_finishes[execution.target] += 1
        assert matrix.early_finishes[execution.target] <= MAX_EARLY_FINISHES, (
            f"{self.operation}: runs keep ending before entry {execution.target}; "
            f"the last one's journal: {self.journal(execution)}"
        )

    def hurry(self) -> None:
        """Runs (and lock releases) still waiting out Restate's retry backoff after their last
        crash retry now (`resume`), rather than in up to 30 s; none may be paused."""
        tenants = sql_list(sorted({e.tenant for e in self.executions}))
        ids = sql_list([e.invocation for e in self.executions])
        rows = self.client.query(
            "SELECT id, status FROM sys_invocation WHERE status IN ('backing-off', 'paused') "
            f"AND (id IN ({ids}) OR (target_service_name = 'TenantLock' "
            f"AND target_service_key IN ({tenants})))"
        )
        assert [r for r in rows if r["status"] == "paused"] == [], f"paused: {rows}"
        for row in rows:
            response = self.client.http.patch(f"{self.client.admin}/invocations/{row['id']}/resume")
            assert response.status_code in (200, 409), response.text  # 409: it moved on already

    # -- the proof ------------------------------------------------------------------------------

    def check(self, matrix: Matrix) -> None:
        assert sorted(matrix.reached) == matrix.targets  # every kill point had its crash
        for execution in self.executions:
            self.open_gate(execution.tenant)
        self.hurry()
        for execution in self.executions:
            self._check_execution(execution)
        self.client.wait_unlocked(
            *sorted({e.tenant for e in self.executions}), within=FINISH_SECONDS
        )

    def _check_execution(self, execution: Execution) -> None:
        what = f"{self.operation} of {execution.tenant} killed at {execution.kills}"
        response = self.client.attach(execution.key)
        assert response.status_code == 200, f"{what}: {response.status_code} {response.text}"
        result = response.json()
        status = self.client.status(execution.key)
        events = [event["type"] for event in status["events"]]
        transitions = [e["phase"] for e in status["events"] if e["type"] == "transition"]
        assert status["outcome"] == "succeeded", f"{what}: {status}"
        assert not [e for e in events if e.startswith("compensat")], f"{what}: {events}"
        assert transitions == PHASES[self.operation], f"{what}: {transitions}"
        assert result["phase"] == PHASES[self.operation][-1], f"{what}: {result}"
        processes = tenant_processes(self.stack.backend, execution.tenant)
        if self.operation == "delete":
            assert processes == {}, f"{what}: processes left: {processes}"
            return
        assert list(processes.values()) == [AFTER], f"{what}: processes {processes}"
        [pid] = processes
        assert result["resource_ids"]["pid"] == str(pid), f"{what}: {result}"
        served = httpx.get(result["endpoints"]["http"] + "/", timeout=5, trust_env=False)
        assert served.json() == {"tenant": execution.tenant, "settings": AFTER}, what
        health = httpx.get(result["endpoints"]["http"] + "/health", timeout=5, trust_env=False)
        assert health.status_code == 200, what
        for seen in execution.seen:  # a process a crash saw is the one serving: not started twice
            started = [p for p, settings in seen.items() if settings == AFTER]
            assert started in ([], [pid]), f"{what}: saw {execution.seen}, now {pid}"
        if self.operation == "update":
            assert result["endpoints"] == self.endpoints[execution.tenant], what

    def cleanup(self) -> None:
        async def destroy_all(tenants: set[str]) -> None:
            await asyncio.gather(
                *(self.stack.backend.destroy(TenantRef(tenant_id=t)) for t in tenants)
            )

        self.thaw()
        asyncio.run(destroy_all({e.tenant for e in self.executions} | set(self.pool)))


@pytest.fixture
def matrix_stack(restate_server: LocalRestateServer, tmp_path: Path) -> Iterator[CrashStack]:
    """A services process of this test's own (see `CrashStack`), thawed before it stops."""
    (tmp_path / "services").mkdir()
    stack = CrashStack(restate_server, tmp_path)
    try:
        yield stack
    finally:
        pid = stack.services.process.pid
        if pid is not None:  # a frozen process would ignore SIGTERM until its SIGKILL fallback
            os.killpg(pid, signal.SIGCONT)
        stack.client.close()
        stack.services.stop()


def crash_matrix(stack: CrashStack, operation: str, node: pytest.Item, gates: Path) -> None:
    """Run the operation's matrix and check it; its summary becomes the test's `crash_matrix`
    user property (in a JUnit XML report)."""
    gates.mkdir()
    runner = CrashRunner(stack, operation, gates)
    try:
        matrix = runner.run()
        runner.check(matrix)
        node.user_properties.append(("crash_matrix", json.dumps(matrix.summary())))
    finally:
        runner.cleanup()


def test_crash_at_every_step_provision(
    matrix_stack: CrashStack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    crash_matrix(matrix_stack, "provision", request.node, tmp_path / "gates")


def test_crash_at_every_step_update(
    matrix_stack: CrashStack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    crash_matrix(matrix_stack, "update", request.node, tmp_path / "gates")


def test_crash_at_every_step_delete(
    matrix_stack: CrashStack, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    crash_matrix(matrix_stack, "delete", request.node, tmp_path / "gates")
