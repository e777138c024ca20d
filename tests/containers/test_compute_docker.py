"""DockerBackend against a real Docker engine: the whole lifecycle of one tenant's container.

Part of the container tier: the engine and the python3 base image come from its fixtures
(nothing can be pulled on these machines, so the test never pulls).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from services.compute.docker import DockerBackend
from services.compute.protocol import ComputeRejectedError, ComputeState, TenantRef
from tests.containers.conftest import Images
from tests.containers.engine import Engine

HEALTHY_TIMEOUT_SECONDS = 30.0

# A one-file HTTP server: 200 on /health, 404 elsewhere; its env shows up in the answer body.
SERVER = """\
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(os.environ.get("GREETING", "").encode())
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


@pytest.fixture(scope="module")
def docker_client(engine: Engine) -> Any:
    """A client for the tier's engine (DockerBackend finds the same one through DOCKER_HOST)."""
    return engine.client


@pytest.fixture(scope="module")
def python_image(images: Images) -> str:
    """The tier's local Debian base, which carries python3 (nothing is pulled)."""
    return images.base


@pytest.fixture
def tenant(docker_client: Any) -> Iterator[TenantRef]:
    """A fresh tenant; whatever the test leaves behind is force-removed by label."""
    ref = TenantRef(tenant_id=f"it-{uuid.uuid4().hex[:12]}")
    try:
        yield ref
    finally:
        for container in _labelled(docker_client, ref):
            container.remove(force=True)


def _labelled(docker_client: Any, tenant: TenantRef) -> list[Any]:
    filters = {"label": ["landlord.managed=true", f"landlord.tenant={tenant.tenant_id}"]}
    found: list[Any] = docker_client.containers.list(all=True, filters=filters)
    return found


async def _until_healthy(backend: DockerBackend, tenant: TenantRef) -> ComputeState:
    """Poll status until healthy, failing at the deadline with the last detail."""
    deadline = time.monotonic() + HEALTHY_TIMEOUT_SECONDS
    while True:
        state = await backend.status(tenant)
        if state.healthy:
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"not healthy after {HEALTHY_TIMEOUT_SECONDS}s: {state.detail}")
        await asyncio.sleep(0.2)


async def test_lifecycle_is_idempotent_and_observable(
    docker_client: Any, python_image: str, tenant: TenantRef
) -> None:
    backend = DockerBackend()
    config = backend.validate_config(
        {"image": python_image, "env": {"GREETING": "hello"}, "command": ["python3", "-c", SERVER]}
    )

    first = await backend.provision(tenant, config)
    again = await backend.provision(tenant, config)
    assert again.resource_ids == first.resource_ids, "a re-run reuses the container"
    assert len(_labelled(docker_client, tenant)) == 1

    healthy = await _until_healthy(backend, tenant)
    assert healthy.config == config
    assert healthy.endpoints["http"].startswith("http://127.0.0.1:")
    [container] = _labelled(docker_client, tenant)
    assert container.name == f"landlord-tenant-{tenant.tenant_id}"
    assert healthy.resource_ids == {"container_id": container.id}

    same = await backend.update(tenant, config)
    assert same.resource_ids == first.resource_ids, "same config hash: no replacement"

    changed_config = backend.validate_config({**config, "env": {"GREETING": "bye"}})
    changed = await backend.update(tenant, changed_config)
    assert changed.resource_ids != first.resource_ids
    assert len(_labelled(docker_client, tenant)) == 1
    assert (await _until_healthy(backend, tenant)).config["env"] == {"GREETING": "bye"}

    await backend.destroy(tenant)
    assert _labelled(docker_client, tenant) == []
    assert not (await backend.status(tenant)).exists
    await backend.destroy(tenant)  # nothing there: still success


async def test_missing_image_is_rejected_and_leaves_nothing(
    docker_client: Any, tenant: TenantRef
) -> None:
    backend = DockerBackend()
    missing = f"landlord-restate-missing-{uuid.uuid4().hex[:8]}:never"
    with pytest.raises(ComputeRejectedError, match=r"desired_config\.image"):
        await backend.provision(tenant, {"image": missing})
    assert _labelled(docker_client, tenant) == []
