"""`landlord-restate workflow …` and `execution …` as a user runs them, against a real server
and the real tenant workflow: create, start with --watch, status, list, stop, delete."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_stack import LocalRestateServer
from tests.servers import AsgiProcess, environment_without_settings

SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))


@pytest.fixture(scope="module")
def cli(
    restate_server: LocalRestateServer, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the console script against the session server."""
    flags = [
        f"--workflow.restate.endpoint={restate_server.ingress_url}",
        f"--workflow.restate.admin_endpoint={restate_server.admin_url}",
    ]
    env = environment_without_settings()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SCRIPT, *args, *flags], capture_output=True, text=True, env=env, timeout=120
        )

    return run


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory, services_url: str) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tenant-provisioning.yaml"
    path.write_text(
        "workflow_id: tenant-provisioning\nprovider_type: restate\ntimeout: 5m\ndefinition:\n"
        f"  service: TenantProvisioning\n  deployment: {{uri: '{services_url}'}}\n"
    )
    return path


@pytest.fixture(scope="module")
def services_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`services.app:app` under hypercorn for this module."""
    process = AsgiProcess(
        app_ref="services.app:app",
        work_dir=tmp_path_factory.mktemp("cli-services"),
        env={"LANDLORD_SERVICES_STATE_DIR": str(tmp_path_factory.mktemp("cli-tenants"))},
    )
    process.start()
    yield process.url
    process.stop()


def tenant_input(operation: str, **desired: object) -> str:
    return json.dumps(
        {
            "tenant_id": f"cli-{uuid.uuid4().hex[:8]}",
            "operation": operation,
            "compute_provider": "mock",
            "desired_config": desired,
        }
    )


def test_create_start_watch_status_list(
    cli: Callable[..., subprocess.CompletedProcess[str]], spec_file: Path
) -> None:
    created = cli("workflow", "create", str(spec_file), "-o", "json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["resource_ids"]["service"] == "TenantProvisioning"
    name = f"cli-plan-{uuid.uuid4().hex[:6]}"
    started = cli(
        "execution", "start", "tenant-provisioning", "--name", name,
        "--input", tenant_input("plan"), "--watch", "-o", "json",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    status = json.loads(started.stdout)
    assert status["state"] == "succeeded"
    assert status["output"]["plan"][0]["action"] == "create"
    assert status["metadata"]["progress"]["phase"] == "planning"
    again = cli("execution", "status", status["execution_id"])
    assert again.returncode == 0, again.stderr
    assert "succeeded" in again.stdout
    listed = cli("execution", "list", "tenant-provisioning", "--state", "succeeded", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert status["execution_id"] in {item["execution_id"] for item in json.loads(listed.stdout)}


def test_a_failed_execution_exits_3_with_its_error(
    cli: Callable[..., subprocess.CompletedProcess[str]], spec_file: Path
) -> None:
    assert cli("workflow", "create", str(spec_file)).returncode == 0
    failing = tenant_input("provision", fail_on="provision", failure="permanent")
    result = cli(
        "execution", "start", "tenant-provisioning", "--name", f"cli-fail-{uuid.uuid4().hex[:6]}",
        "--input", failing, "--watch",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "error:     [422] step 'provision mock' failed: mock compute refuses to provision" in (
        result.stdout.splitlines()
    )
    assert "state:     failed" in result.stdout.splitlines()


def test_stop_cancels_and_compensates(
    cli: Callable[..., subprocess.CompletedProcess[str]], spec_file: Path
) -> None:
    assert cli("workflow", "create", str(spec_file)).returncode == 0
    started = cli(
        "execution", "start", "tenant-provisioning", "--name", f"cli-stop-{uuid.uuid4().hex[:6]}",
        "--input", tenant_input("provision", healthy_after=1000), "-o", "json",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    execution_id = json.loads(started.stdout)["execution_id"]
    stopped = cli("execution", "stop", execution_id, "--reason", "operator")
    assert stopped.returncode == 0, stopped.stderr
    watched = cli("execution", "status", execution_id, "--watch", "-o", "json")
    assert watched.returncode == 3
    assert json.loads(watched.stdout)["state"] == "cancelled"


def test_delete_then_create_again(
    cli: Callable[..., subprocess.CompletedProcess[str]], spec_file: Path
) -> None:
    assert cli("workflow", "create", str(spec_file)).returncode == 0
    deleted = cli("workflow", "delete", "tenant-provisioning")
    assert deleted.returncode == 0, deleted.stderr
    refused = cli(
        "execution", "start", "tenant-provisioning", "--name", "after-delete",
        "--input", tenant_input("plan"),
    )  # fmt: skip
    assert refused.returncode == 1
    assert "workflow 'tenant-provisioning' not found" in refused.stderr
    assert cli("workflow", "create", str(spec_file)).returncode == 0


def test_unreachable_server_is_one_line(
    cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    result = subprocess.run(
        [SCRIPT, "execution", "status", "inv_18Ud0FJ0DPk83E2DMvOumBopeafiZquBb8",
         "--workflow.restate.admin_endpoint=http://127.0.0.1:9",
         "--workflow.restate.retry_attempts=0", "--log.level=error"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: cannot reach http://127.0.0.1:9: ConnectError"
    )
