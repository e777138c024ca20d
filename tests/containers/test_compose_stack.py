"""docker-compose.yml as a user runs it: `up` gives restate-server, the services and a finished
registration; a tenant provisions through the stack; the services answer only Restate's
signed requests; the services and the control plane share the keyring the environment gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_stack.ports import free_ports
from sealing import KEYRING_ENV, Keyring
from tests.containers.conftest import Images
from tests.containers.engine import Engine
from tests.servers import REPO_ROOT, environment_without_settings

SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))
UP_TIMEOUT_SECONDS = 300.0
REGISTERED_DEADLINE_SECONDS = 180.0
COMMAND_TIMEOUT_SECONDS = 180.0


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) where present, else Debian's `docker-compose` (v1)."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is None:
        pytest.fail("neither `docker compose` nor `docker-compose` is installed", pytrace=False)
    return [legacy]


@dataclass
class Stack:
    """A running compose project and how to reach it from the host."""

    command: list[str]
    env: dict[str, str]
    ingress_url: str
    admin_url: str
    controller_url: str
    project: str
    keyring: str

    def compose(
        self, *args: str, timeout: float = COMMAND_TIMEOUT_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args], capture_output=True, text=True, env=self.env, timeout=timeout
        )

    def service_container(self, engine: Engine, service: str) -> Any:
        labels = [
            f"com.docker.compose.project={self.project}",
            f"com.docker.compose.service={service}",
        ]
        found = engine.client.containers.list(all=True, filters={"label": labels})
        return found[0] if found else None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The project's CLI on the host, pointed at the stack's published ports, with the
        stack's secrets keyring (the control plane seals with what the services open with)."""
        env = environment_without_settings() | {KEYRING_ENV: self.keyring}
        flags = [
            f"--workflow.restate.endpoint={self.ingress_url}",
            f"--workflow.restate.admin_endpoint={self.admin_url}",
        ]
        return subprocess.run(
            [SCRIPT, *args, *flags],
            capture_output=True,
            text=True,
            env=env,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )


def _wait_registered(stack: Stack, engine: Engine) -> None:
    """Until the `controller` container is healthy (its /health is 200 only once the services
    are registered); fail with its log if it exits or does not get there in time."""
    deadline = time.monotonic() + REGISTERED_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        container = stack.service_container(engine, "controller")
        if container is not None:
            container.reload()
            if container.status == "exited":
                code = container.attrs["State"]["ExitCode"]
                pytest.fail(f"controller exited {code}:\n{container.logs().decode()[-3000:]}")
            if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
                return
        time.sleep(0.5)
    pytest.fail(f"the controller was not healthy within {REGISTERED_DEADLINE_SECONDS:.0f}s")


@pytest.fixture(scope="module")
def stack(engine: Engine, images: Images, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """`docker compose up` of the repository's file on free host ports, torn down with `down -v`."""
    ingress_port, admin_port, controller_port = free_ports(3)
    project = f"landlord-test-{uuid.uuid4().hex[:8]}"
    # The compose file requires one; a fresh one per run, as a user makes theirs.
    keyring = Keyring.new_entry("compose-1")
    env = {
        **os.environ,
        KEYRING_ENV: keyring,
        "DOCKER_HOST": os.environ.get("DOCKER_HOST", ""),
        "RESTATE_INGRESS_PORT": str(ingress_port),
        "RESTATE_ADMIN_PORT": str(admin_port),
        "LANDLORD_CONTROLLER_PORT": str(controller_port),
        "RESTATE_IMAGE": images.restate,
        "LANDLORD_SERVICES_IMAGE": images.services,
        "LANDLORD_CONTROL_IMAGE": images.control,
    }
    stack = Stack(
        command=[
            *compose_command(),
            "--project-name",
            project,
            "--file",
            str(REPO_ROOT / "docker-compose.yml"),
        ],
        env={k: v for k, v in env.items() if v},
        ingress_url=f"http://127.0.0.1:{ingress_port}",
        admin_url=f"http://127.0.0.1:{admin_port}",
        controller_url=f"http://127.0.0.1:{controller_port}",
        project=project,
        keyring=keyring,
    )
    try:
        up = stack.compose("up", "--detach", "--no-build", timeout=UP_TIMEOUT_SECONDS)
        assert up.returncode == 0, up.stderr
        _wait_registered(stack, engine)
        yield stack
    finally:
        logs = stack.compose("logs", "--no-color", "--tail", "60")
        sys.stderr.write(f"[compose logs]\n{logs.stdout[-8000:]}\n")
        stack.compose("down", "--volumes", "--timeout", "5")


def test_up_registers_the_services_with_restate(stack: Stack) -> None:
    services = httpx.get(f"{stack.admin_url}/services/TenantProvisioning", timeout=10)
    assert services.status_code == 200, services.text
    deployments = httpx.get(f"{stack.admin_url}/deployments", timeout=10).json()["deployments"]
    assert [d["uri"].rstrip("/") for d in deployments] == ["http://services:9080"]
    assert httpx.get(f"{stack.ingress_url}/restate/health", timeout=10).status_code == 200
    health = httpx.get(f"{stack.controller_url}/health", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["workflows"] == {"tenant-provisioning": True}


def test_a_tenant_provisions_through_the_stack(stack: Stack) -> None:
    tenant = f"compose-{uuid.uuid4().hex[:8]}"
    request = {
        "tenant_id": tenant,
        "operation": "provision",
        "compute_provider": "mock",
        "desired_config": {"settings": {"plan": "gold"}},
    }
    started = stack.cli(
        "execution", "start", "tenant-provisioning", "--name", f"provision-{tenant}",
        "--input", json.dumps(request), "--watch", "-o", "json",
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    status = json.loads(started.stdout)
    assert status["state"] == "succeeded", status
    assert status["output"]["tenant_id"] == tenant
    assert status["output"]["phase"] == "ready"


def test_the_services_refuse_unsigned_requests(stack: Stack) -> None:
    """The identity key pair is wired through: a request not signed by Restate gets 401."""
    probe = (
        "import urllib.request, urllib.error\n"
        "try:\n"
        "    urllib.request.urlopen('http://127.0.0.1:9080/discover', timeout=5)\n"
        "    print(200)\n"
        "except urllib.error.HTTPError as error:\n"
        "    print(error.code)\n"
    )
    answered = stack.compose("exec", "-T", "services", "python3", "-c", probe)
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.strip() == "401"


def test_the_services_run_unprivileged_and_healthy(stack: Stack, engine: Engine) -> None:
    """The image's own health check passes, and its process is uid 10001, not root."""
    container = stack.service_container(engine, "services")
    container.reload()
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    who = stack.compose("exec", "-T", "services", "id", "-u")
    assert who.returncode == 0, who.stderr
    assert who.stdout.strip() == "10001"


def test_one_shot_steps_use_the_control_image(stack: Stack, engine: Engine, images: Images) -> None:
    """identity-key and the controller run from the control image; the services from the
    services image, serving with its own entry point (`python -m services`)."""
    used = {
        service: stack.service_container(engine, service).attrs["Config"]
        for service in ("identity", "controller", "services")
    }
    assert used["identity"]["Image"] == images.control
    assert used["controller"]["Image"] == images.control
    assert used["services"]["Image"] == images.services
    assert used["services"]["Entrypoint"] == ["python", "-m", "services"]


def test_the_keyring_reaches_the_services_and_registration_only(
    stack: Stack, engine: Engine
) -> None:
    """The services and the control-plane step get the keyring from the environment the
    stack was started with; restate-server, which only journals sealed envelopes, does not."""
    environments = {
        service: stack.service_container(engine, service).attrs["Config"]["Env"]
        for service in ("services", "controller", "restate", "identity")
    }
    given = f"{KEYRING_ENV}={stack.keyring}"
    assert given in environments["services"]
    assert given in environments["controller"]
    for service in ("restate", "identity"):
        assert not [e for e in environments[service] if e.startswith(f"{KEYRING_ENV}=")]


def test_the_compose_file_requires_a_keyring(stack: Stack) -> None:
    """Without LANDLORD_SECRETS_KEYRING, compose refuses the file and says what to set."""
    env = {k: v for k, v in stack.env.items() if k != KEYRING_ENV}
    refused = subprocess.run(
        [*stack.command, "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert refused.returncode != 0
    assert f"set {KEYRING_ENV}" in refused.stderr
