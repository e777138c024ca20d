"""The tenant workflow stack: a real restate-server (normal, and one that replays at every
step) and `services.app:app` under hypercorn, registered through the admin API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_stack import LocalRestateServer
from services.compute import LocalBackend, TenantRef
from tests.servers import AsgiProcess, register_deployment

from .client import TenantClient

SERVICES_APP = "services.app:app"


@dataclass
class Stack:
    """Server + services + a client; `backend` sees the same tenant processes as the services."""

    mode: str
    server: LocalRestateServer
    services: AsgiProcess
    client: TenantClient
    backend: LocalBackend

    def processes(self, tenant_id: str) -> list[object]:
        return list(self.backend.processes(TenantRef(tenant_id=tenant_id)))

    def report_sections(self) -> list[tuple[str, str]]:
        return [
            (f"restate-server ({self.mode}) log tail", self.server.log_text(tail=60)),
            ("services log tail", self.services.log_tail()),
        ]


def start_services(work_dir: Path, state_dir: Path) -> AsgiProcess:
    """`services.app:app` under hypercorn with its tenant records in `state_dir`."""
    services = AsgiProcess(
        app_ref=SERVICES_APP,
        work_dir=work_dir,
        env={
            "LANDLORD_SERVICES_STATE_DIR": str(state_dir),
            "LANDLORD_SERVICES_LOG_FORMAT": "json",
            # a lease outlives its holder's deadline by 2 s here, not the default minute
            "LANDLORD_SERVICES_LOCK_GRACE": "2s",
        },
    )
    services.start()
    return services


def register(server: LocalRestateServer, services: AsgiProcess) -> None:
    register_deployment(server, services.url, force=True)


@pytest.fixture(scope="session")
def replaying_server(
    restate_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRestateServer]:
    """A server forced to replay at every step (catches non-deterministic handlers)."""
    with LocalRestateServer(
        binary=restate_binary,
        data_dir=tmp_path_factory.mktemp("restate-replay"),
        extra_env={"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "0s"},
    ) as server:
        yield server


@pytest.fixture(scope="module", params=["normal", "always-replay"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The whole stack, once per module and server mode."""
    mode: str = request.param
    server: LocalRestateServer = request.getfixturevalue(
        "restate_server" if mode == "normal" else "replaying_server"
    )
    state_dir = tmp_path_factory.mktemp("tenants")
    services = start_services(tmp_path_factory.mktemp("services"), state_dir)
    client = TenantClient(ingress_url=server.ingress_url, admin_url=server.admin_url)
    try:
        register(server, services)
        yield Stack(mode, server, services, client, LocalBackend(state_dir=state_dir))
    finally:
        client.close()
        services.stop()


@pytest.fixture
def tenant(stack: Stack) -> Iterator[str]:
    """A tenant id no other test uses; whatever it left running is stopped afterwards."""
    tenant_id = f"t-{uuid.uuid4().hex[:10]}"
    yield tenant_id
    asyncio.run(stack.backend.destroy(TenantRef(tenant_id=tenant_id)))
