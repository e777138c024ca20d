"""`landlord-restate register`, the one-shot step of every deployment recipe: it waits for
Restate and the services to come up, registers once, and is safe to run again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local_stack import LocalRestateServer
from tests.servers import AsgiProcess, environment_without_settings

pytestmark = pytest.mark.integration

SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))
COMMAND_TIMEOUT_SECONDS = 90.0
WAITING_DEADLINE_SECONDS = 30.0


@pytest.fixture(scope="module")
def server(own_restate_server: LocalRestateServer) -> LocalRestateServer:
    """These tests register deployments that later stop: on a server of their own."""
    return own_restate_server


def environment(server: LocalRestateServer, deployment_uri: str) -> dict[str, str]:
    """What a recipe's registration step sets: every setting through LANDLORD_* variables."""
    env = environment_without_settings()
    env |= {
        "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": server.ingress_url,
        "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT": server.admin_url,
        "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI": deployment_uri,
        "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM": "self-hosted",
    }
    return env


def services(tmp_path: Path) -> AsgiProcess:
    return AsgiProcess(
        app_ref="services.app:app",
        work_dir=tmp_path,
        env={"LANDLORD_SERVICES_STATE_DIR": str(tmp_path / "tenants")},
    )


def test_waits_for_the_services_then_registers_and_is_idempotent(
    server: LocalRestateServer, tmp_path: Path
) -> None:
    process = services(tmp_path)
    env = environment(server, process.url)
    register = subprocess.Popen(
        [SCRIPT, "register", "--wait", "60s", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert register.stderr is not None
        first_line = register.stderr.readline()  # blocks until the first retry is reported
        assert first_line.startswith("waiting (attempt 1): cannot reach"), first_line
        process.start()
        stdout, stderr = register.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
        assert register.returncode == 0, stderr
        result = json.loads(stdout)
        assert result["workflow_id"] == "tenant-provisioning"
        assert result["resource_ids"]["service"] == "TenantProvisioning"
        deployment = result["resource_ids"]["deployment_id"]

        listed = httpx.get(f"{server.admin_url}/deployments", timeout=10).json()["deployments"]
        assert [d["id"] for d in listed if d.get("uri", "").rstrip("/") == process.url] == [
            deployment
        ]

        again = subprocess.run(
            [SCRIPT, "register", "-o", "json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["resource_ids"]["deployment_id"] == deployment
    finally:
        if register.poll() is None:
            register.kill()
            register.communicate()
        process.stop()


def test_gives_up_after_wait_with_one_line(server: LocalRestateServer, tmp_path: Path) -> None:
    nobody = services(tmp_path).url  # a free port nothing listens on
    done = subprocess.run(
        [SCRIPT, "register", "--wait", "2s"],
        capture_output=True,
        text=True,
        env=environment(server, nobody),
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot reach {nobody}: Restate could not register it: "), last
    assert "[META0003] error when calling" in last
    assert last.endswith("(gave up after 2s)"), last


def test_bad_wait_is_a_usage_error(server: LocalRestateServer) -> None:
    done = subprocess.run(
        [SCRIPT, "register", "--wait", "soon"],
        capture_output=True,
        text=True,
        env=environment(server, "http://127.0.0.1:9"),
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --wait: must be a duration such as 30s, 5m or 1h30m"


def test_with_register_deployment_false_only_the_definition_is_stored(
    restate_binary: Path, tmp_path: Path
) -> None:
    """What the Restate operator needs: it registers the services itself, so `register` must
    not add a second deployment — it stores the definition next to the one serving it."""
    with LocalRestateServer(binary=restate_binary, data_dir=tmp_path / "restate") as fresh:
        process = services(tmp_path)
        env = environment(fresh, "http://127.0.0.1:9") | {
            "LANDLORD_WORKFLOW_RESTATE_REGISTER_DEPLOYMENT": "false"
        }
        process.start()
        try:
            early = subprocess.run(
                [SCRIPT, "register"], capture_output=True, text=True, env=env, timeout=60
            )
            assert early.returncode == 1
            assert "no service 'TenantProvisioning' is registered" in early.stderr

            registered = httpx.post(
                f"{fresh.admin_url}/deployments", json={"uri": process.url}, timeout=30
            )
            assert registered.status_code == 201, registered.text
            done = subprocess.run(
                [SCRIPT, "register", "-o", "json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert (
                json.loads(done.stdout)["resource_ids"]["deployment_id"] == registered.json()["id"]
            )
            listed = httpx.get(f"{fresh.admin_url}/deployments", timeout=10).json()["deployments"]
            assert [d["id"] for d in listed] == [registered.json()["id"]]
        finally:
            process.stop()
