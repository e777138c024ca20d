"""The self-hosted recipe as a 3-node replicated Restate cluster, booted from deploy/self-hosted:
the shared cluster/restate-node.toml plus each node-N.env (only ports, directories and the
metadata addresses re-pointed at loopback), a request identity key made by
make-identity-key.sh, the services and the registration run as their units' ExecStart says,
and tenants provisioned through RestateProvider while one node is SIGKILLed and restarted."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import JsonValue

from local_stack import LocalRestateServer, RestateServerStartError
from local_stack.ports import free_port, free_ports
from local_stack.processes import HttpProcess, HttpProcessError
from provider import ExecutionInput, ExecutionState, ExecutionStatus, ProviderUnavailableError
from provider.config import RestateSettings, load_settings
from provider.restate import RestateProvider
from sealing import KEYRING_FILE_ENV, Keyring
from tests.servers import environment_without_settings

from .self_hosted import (
    CLUSTER_TOML,
    LANDLORD_ENV,
    NODE_ENV_FILES,
    PEM_FILE_ENV,
    active_partition_leaders,
    exec_start,
    installed,
    logged_key_ids,
    make_identity_key,
    read_env_file,
    unit_environment,
)

T = TypeVar("T")

PARTITIONS = 3  # few partitions start fast on 2 cores; 3 spreads leaders over the nodes
WORKFLOW = "tenant-provisioning"
SERVICE = "TenantProvisioning"
PROVISION_STEP = "provision mock"
# Tenants started before the kill, while the node is down, and after it is back.
WAVES = (3, 3, 2)
# Mock compute turns healthy on its 5th status call: each workflow waits ~1.75 s in durable
# health-check sleeps, so the first wave is mid-flight when the node dies. A tenant whose mock
# compute vanished (undone by a stray compensation) fails after HEALTH_TIMEOUT instead of hanging.
HEALTHY_AFTER = 5
HEALTH_TIMEOUT = "30s"

NODE_START_SECONDS = 90.0
READY_SECONDS = 60.0
SERVICES_START_SECONDS = 30.0
REGISTER_SECONDS = 150.0  # the controller's registration and first healthy report
CALL_SECONDS = 45.0  # one provider call; without quorum Restate hangs instead of failing
FINISH_SECONDS = 60.0
LOG_TAIL_LINES = 40

# Addresses the test re-points: the node's own (LocalRestateServer sets loopback ones).
_NODE_ADDRESS_VARIABLES = (
    "RESTATE_ADVERTISED_ADDRESS",
    "RESTATE_BIND_ADDRESS",
    "RESTATE_ADMIN__BIND_ADDRESS",
    "RESTATE_INGRESS__BIND_ADDRESS",
)


@dataclass
class SelfHostedCluster:
    """Three restate nodes, the services, and what the controller printed."""

    nodes: list[LocalRestateServer]
    services: HttpProcess
    key_id: str
    landlord_env: dict[str, str]
    register_output: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def client_node(self) -> LocalRestateServer:
        """The node the control plane talks to (ingress and admin)."""
        return self.nodes[0]

    def report_sections(self) -> list[tuple[str, str]]:
        """Shown with a failed test (tests/servers.py collects these)."""
        sections = [
            (
                f"restate-{number} log, last {LOG_TAIL_LINES} lines without readiness-poll "
                f"'Query failed' warnings ({node.log_path})",
                _log_tail(node),
            )
            for number, node in enumerate(self.nodes, start=1)
        ]
        sections.append(("landlord-services output", self.services.log_tail(LOG_TAIL_LINES)))
        sections.append(("landlord-restate controller output", self.register_output or "(none)"))
        if self.notes:
            sections.append(("cluster test notes", "\n".join(self.notes)))
        return sections

    def report_text(self) -> str:
        """The report sections as one text (for failures before the test has its fixture)."""
        return "\n\n".join(f"--- {title}\n{body}" for title, body in self.report_sections())


def _log_tail(node: LocalRestateServer) -> str:
    """The node's last log lines, minus the SQL failures that readiness polling provokes."""
    lines = [
        line for line in node.log_text().splitlines() if '"message":"Query failed"' not in line
    ]
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(empty)"


def _node_environment(
    number: int, *, config: Path, metadata_addresses: list[str], pem: Path
) -> dict[str, str]:
    """node-N.env as systemd would pass it, addresses dropped (loopback ports instead)."""
    env = {
        name: value
        for name, value in read_env_file(NODE_ENV_FILES[number - 1]).items()
        if name not in _NODE_ADDRESS_VARIABLES
    }
    env |= {
        "RESTATE_CONFIG": str(config),  # = --config-file, as restate-server.service passes it
        "RESTATE_METADATA_CLIENT__ADDRESSES": json.dumps(metadata_addresses),
        PEM_FILE_ENV: str(pem),
    }
    return env


def _landlord_environment(
    *, key_id: str, ingress: str, admin: str, services: str, state_dir: Path, keyring: Path
) -> dict[str, str]:
    """landlord.env with its URLs, keys and state directory re-pointed; no other LANDLORD_*."""
    recipe = read_env_file(LANDLORD_ENV)
    overrides = {
        "LANDLORD_SERVICES_IDENTITY_KEYS": key_id,
        KEYRING_FILE_ENV: str(keyring),
        "LANDLORD_SERVICES_STATE_DIR": str(state_dir),
        "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": ingress,
        "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT": admin,
        "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI": services,
    }
    missing = overrides.keys() - recipe.keys()
    assert not missing, f"landlord.env does not set {sorted(missing)}"
    return recipe | overrides


def _start_all(nodes: list[LocalRestateServer]) -> None:
    """Start the nodes together: none is ready before a quorum of them runs."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        for future in [pool.submit(node.start, timeout=NODE_START_SECONDS) for node in nodes]:
            future.result()


def _stop_all(nodes: list[LocalRestateServer]) -> None:
    """SIGTERM every node at once (SIGKILL after 10 s); never raises."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        for future in [pool.submit(node.stop, timeout=10) for node in nodes]:
            try:
                future.result()
            except Exception as error:  # teardown must reach every node
                print(f"stopping a restate node failed: {error!r}")


def _wait_cluster_ready(nodes: list[LocalRestateServer]) -> dict[str, Any]:
    """Poll until all 3 nodes are metadata members and every partition has a leader."""
    deadline = time.monotonic() + READY_SECONDS
    problem = "not probed yet"
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        while True:
            try:
                health = client.get(f"{nodes[0].admin_url}/cluster-health").json()
            except (httpx.HTTPError, ValueError) as error:
                problem = f"cluster-health: {error!r}"
            else:
                members = health.get("metadata_cluster_health", {}).get("members", [])
                leaders = [active_partition_leaders(node, client) for node in nodes]
                led = sum(count or 0 for count in leaders)
                if len(members) == len(nodes) and led == PARTITIONS:
                    return {"metadata_members": sorted(members), "leaders": leaders}
                problem = f"metadata members {members}, partition leaders per node {leaders}"
            if time.monotonic() >= deadline:
                pytest.fail(f"cluster not ready within {READY_SECONDS:.0f}s: {problem}")
            time.sleep(0.1)


@pytest.fixture
def cluster(restate_binary: Path, tmp_path: Path) -> Iterator[SelfHostedCluster]:
    """The recipe's 3-node cluster, services and registration, on loopback."""
    pem = tmp_path / "request-identity.pem"
    key_id = make_identity_key(pem)
    ports = free_ports(9)
    node_urls = [f"http://127.0.0.1:{ports[3 * i + 2]}/" for i in range(3)]
    nodes = [
        LocalRestateServer(
            binary=restate_binary,
            data_dir=tmp_path / f"restate-{number}",
            ingress_port=ports[3 * (number - 1)],
            admin_port=ports[3 * (number - 1) + 1],
            node_port=ports[3 * (number - 1) + 2],
            partitions=PARTITIONS,
            extra_env=_node_environment(
                number, config=CLUSTER_TOML, metadata_addresses=node_urls, pem=pem
            ),
        )
        for number in (1, 2, 3)
    ]
    services_port = free_port()
    services_url = f"http://127.0.0.1:{services_port}"
    keyring = tmp_path / "secrets.keyring"
    keyring.write_text(Keyring.new_entry("k1") + "\n")
    keyring.chmod(0o600)
    landlord_env = _landlord_environment(
        key_id=key_id,
        ingress=nodes[0].ingress_url,
        admin=nodes[0].admin_url,
        services=services_url,
        state_dir=tmp_path / "tenants",
        keyring=keyring,
    )
    serve = installed(exec_start("landlord-services.service"), restate_binary=restate_binary)
    assert serve[1:4] == ["-m", "services", "--bind"], serve
    serve[4] = f"127.0.0.1:{services_port}"  # the unit binds 0.0.0.0:9080
    process_env = environment_without_settings()
    services = HttpProcess(
        name="landlord-services",
        command=serve,
        url=services_url,
        log_path=tmp_path / "services.log",
        env=process_env | unit_environment("landlord-services.service") | landlord_env,
        cwd=tmp_path,
    )
    started = SelfHostedCluster(nodes, services, key_id, landlord_env)
    try:
        try:
            _start_all(nodes)
            services.start(timeout=SERVICES_START_SECONDS)
            started.register_output = _register(restate_binary, process_env, landlord_env, tmp_path)
        except (RestateServerStartError, HttpProcessError, subprocess.SubprocessError) as error:
            if isinstance(error, subprocess.CalledProcessError):
                started.register_output = str(error.output)
            # A setup failure has no funcargs for tests/servers.py to report: say it all here.
            pytest.fail(f"{error}\n\n{started.report_text()}")
        yield started
    finally:
        services.stop(grace=3.0)
        _stop_all(nodes)


def _register(
    restate_binary: Path, process_env: dict[str, str], landlord_env: dict[str, str], cwd: Path
) -> str:
    """Run landlord-controller.service's command (on a free port) until its /health is 200,
    then SIGTERM it; its output, or CalledProcessError (it exited, never got healthy, or did
    not stop with exit 0)."""
    command = installed(exec_start("landlord-controller.service"), restate_binary=restate_binary)
    assert command[1:3] == ["controller", "--bind"], command
    port = free_port()
    command[3] = f"127.0.0.1:{port}"
    log_path = cwd / "controller.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env=process_env | unit_environment("landlord-controller.service") | landlord_env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        healthy = False
        deadline = time.monotonic() + REGISTER_SECONDS
        while process.poll() is None and time.monotonic() < deadline and not healthy:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5.0, trust_env=False)
                healthy = answer.status_code == 200
            except httpx.TransportError:
                pass
            if not healthy:
                time.sleep(0.2)
        if process.poll() is None:
            process.terminate()
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
    output = f"exit {code}, healthy {healthy}\n{log_path.read_text(errors='replace')}"
    if not healthy or code != 0:
        raise subprocess.CalledProcessError(code or 1, command, output=output)
    return output


# -- helpers ---------------------------------------------------------------------------------


async def _bounded(call: Awaitable[T], what: str) -> T:
    """Await one provider call with a deadline (without quorum Restate hangs, not fails)."""
    try:
        return await asyncio.wait_for(call, CALL_SECONDS)
    except TimeoutError:
        pytest.fail(f"{what}: no answer within {CALL_SECONDS:.0f}s")


def _request(tenant_id: str) -> dict[str, JsonValue]:
    """A provision request for mock compute that becomes healthy after a few polls."""
    return {
        "tenant_id": tenant_id,
        "tenant_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, tenant_id)),
        "operation": "provision",
        "compute_provider": "mock",
        "desired_config": {"healthy_after": HEALTHY_AFTER, "settings": {"plan": "gold"}},
        "health_timeout": HEALTH_TIMEOUT,
    }


async def _start(provider: RestateProvider, tenants: list[str], names: dict[str, str]) -> None:
    """Start one provision execution per tenant, concurrently; record execution ids."""
    inputs = {
        tenant: ExecutionInput(execution_name=f"{tenant}-provision", input=_request(tenant))
        for tenant in tenants
    }
    results = await asyncio.gather(
        *(
            _bounded(provider.start_execution(WORKFLOW, value), f"start {tenant}")
            for tenant, value in inputs.items()
        )
    )
    for tenant, result in zip(tenants, results, strict=True):
        # "already started": the provider retried a send Restate had accepted (same execution).
        assert result.message in ("started", "already started"), (tenant, result)
        names[tenant] = result.execution_id


async def _until_all(
    provider: RestateProvider,
    execution_ids: list[str],
    done: Callable[[ExecutionStatus], bool],
    what: str,
) -> dict[str, ExecutionStatus]:
    """Poll each execution's status until `done` holds for all (errors retried until the
    deadline: during a fail-over the admin API may time out or answer 5xx for a while)."""
    deadline = time.monotonic() + FINISH_SECONDS
    latest: dict[str, ExecutionStatus] = {}
    problem = ""
    while True:
        for execution_id in execution_ids:
            if execution_id in latest and done(latest[execution_id]):
                continue
            try:
                latest[execution_id] = await asyncio.wait_for(
                    provider.get_execution_status(execution_id), CALL_SECONDS
                )
            except (TimeoutError, ProviderUnavailableError, httpx.HTTPError) as error:
                problem = f"{execution_id}: {error!r}"
        if len(latest) == len(execution_ids) and all(map(done, latest.values())):
            return latest
        if time.monotonic() >= deadline:
            states = {
                key: (s.state.value, s.metadata.get("sub_state")) for key, s in latest.items()
            }
            pytest.fail(f"not {what} within {FINISH_SECONDS:.0f}s: {states}; last error: {problem}")
        await asyncio.sleep(0.1)


def _finished(status: ExecutionStatus) -> bool:
    return status.state.is_terminal


def _assert_succeeded(statuses: dict[str, ExecutionStatus]) -> None:
    """Every execution succeeded; otherwise name each one that did not, with its error."""
    failed = {
        status.execution_name: (
            status.state.value,
            status.error.message if status.error else None,
        )
        for status in statuses.values()
        if status.state is not ExecutionState.SUCCEEDED
    }
    assert not failed, f"executions that did not succeed: {failed}"


async def _query(node: LocalRestateServer, sql: str) -> list[dict[str, Any]]:
    """Rows of an admin SQL query on one node (a fresh bounded client)."""
    async with httpx.AsyncClient(timeout=CALL_SECONDS, trust_env=False) as client:
        response = await client.post(
            f"{node.admin_url}/query", json={"query": sql}, headers={"Accept": "application/json"}
        )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def _victim(cluster: SelfHostedCluster) -> tuple[int, LocalRestateServer, int]:
    """The node to kill: not the client's; of nodes 2 and 3 the one leading more partitions."""
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        led = {n: active_partition_leaders(cluster.nodes[n - 1], client) or 0 for n in (2, 3)}
    number = max((3, 2), key=lambda n: led[n])
    return number, cluster.nodes[number - 1], led[number]


# -- the test ----------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.timeout(300)
async def test_tenants_provision_once_through_a_node_crash(cluster: SelfHostedCluster) -> None:
    """Every tenant started before, during and after a SIGKILL of a non-client node succeeds,
    exactly once: one invocation per name, one journaled provision step, the right output."""
    nodes = cluster.nodes
    # The config really made a replicated cluster: 3 metadata members, every partition led.
    ready = await asyncio.to_thread(_wait_cluster_ready, nodes)
    assert ready["metadata_members"] == [1, 2, 3], ready
    # Every node signs with the script's key (the services refuse anything else).
    for number, node in enumerate(nodes, start=1):
        assert logged_key_ids(node.log_text()) == {cluster.key_id}, f"restate-{number}"

    loaded = load_settings(environ=cluster.landlord_env).settings
    settings: RestateSettings = loaded.workflow.restate
    assert settings.execution_mechanism == "self-hosted"
    assert (settings.endpoint, settings.admin_endpoint) == (
        cluster.client_node.ingress_url,
        cluster.client_node.admin_url,
    )
    # the control plane seals with the recipe's keyring, the one the services open with
    provider = RestateProvider(settings, keyring=Keyring.from_environment(cluster.landlord_env))
    tenants = [f"sh-{uuid.uuid4().hex[:6]}-{i}" for i in range(sum(WAVES))]
    before, during, after = (
        tenants[: WAVES[0]],
        tenants[WAVES[0] : WAVES[0] + WAVES[1]],
        tenants[WAVES[0] + WAVES[1] :],
    )
    ids: dict[str, str] = {}
    try:
        await _start(provider, before, ids)
        rows = await _query(
            cluster.client_node,
            "SELECT id, status FROM sys_invocation WHERE id IN ("
            + ", ".join(f"'{ids[t]}'" for t in before)
            + ")",
        )
        in_flight = [row["id"] for row in rows if row["status"] != "completed"]
        assert in_flight, f"the first wave finished before the kill: {rows}"

        number, victim, led = _victim(cluster)
        cluster.notes.append(f"killed restate-{number} (led {led} of {PARTITIONS} partitions)")
        victim.kill()
        # Two nodes of three: quorum for metadata and for 2-way replicated logs.
        await _start(provider, during, ids)
        down = await _until_all(
            provider, [ids[t] for t in before + during], _finished, "finished with a node down"
        )
        _assert_succeeded(down)

        await asyncio.to_thread(victim.start, timeout=NODE_START_SECONDS)
        await asyncio.to_thread(_wait_cluster_ready, nodes)
        await _start(provider, after, ids)
        finished = await _until_all(provider, list(ids.values()), _finished, "finished")
        _assert_succeeded(finished)

        # Starting a name again is the same execution, not a second run.
        again = await _bounded(
            provider.start_execution(
                WORKFLOW,
                ExecutionInput(execution_name=f"{before[0]}-provision", input=_request(before[0])),
            ),
            "start again",
        )
        assert (again.execution_id, again.message) == (ids[before[0]], "already started")
    finally:
        await provider.aclose()

    assert len(set(ids.values())) == len(tenants)
    for tenant in tenants:
        status = finished[ids[tenant]]
        assert status.state is ExecutionState.SUCCEEDED, (tenant, status)
        assert isinstance(status.output, dict), status
        assert status.output["tenant_id"] == tenant
        assert status.output["phase"] == "ready"
        assert status.output["resource_ids"] == {"mock": tenant}
        observed = status.output["observed_config"]
        assert isinstance(observed, dict), status
        assert observed["settings"] == {"plan": "gold"}

    # Nothing lost or doubled, seen from the client's node and from the restarted one.
    for node in (cluster.client_node, victim):
        runs = await _query(
            node,
            "SELECT target_service_key, status, completion_result FROM sys_invocation "
            f"WHERE target_service_name = '{SERVICE}' AND target_handler_name = 'run'",
        )
        keys = sorted(row["target_service_key"] for row in runs)
        assert keys == sorted(f"{t}-provision" for t in tenants), runs
        assert {(r["status"], r.get("completion_result")) for r in runs} == {
            ("completed", "success")
        }
    steps = await _query(
        cluster.client_node,
        f"SELECT id, entry_type FROM sys_journal WHERE name = '{PROVISION_STEP}'",
    )
    commands: dict[str, int] = {}
    for row in steps:
        if str(row["entry_type"]).startswith("Command"):
            commands[row["id"]] = commands.get(row["id"], 0) + 1
    assert commands == dict.fromkeys(ids.values(), 1), steps
