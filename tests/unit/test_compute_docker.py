"""DockerBackend against a duck-typed fake Docker client: config rules, idempotency, lifecycle."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import docker
import docker.errors
import pytest

from services.compute.docker import DockerBackend, DockerUnavailableError
from services.compute.protocol import (
    ComputeBackend,
    ComputeConfigError,
    ComputeRejectedError,
    TenantRef,
)

SECRET = "s3cr3t-value-never-echoed"
TENANT = TenantRef(tenant_id="acme")
_ids = itertools.count(1)


class FakeContainer:
    """Enough of docker.models.containers.Container: attrs, labels, start/reload/remove."""

    def __init__(self, engine: FakeContainers, **kwargs: Any) -> None:
        self.engine = engine
        self.id = f"c{next(_ids):04d}"
        self.name = kwargs["name"]
        self.kwargs = kwargs
        self.running = False
        self.starts = 0
        env = [f"{k}={v}" for k, v in (kwargs.get("environment") or {}).items()]
        self.attrs: dict[str, Any] = {
            "Config": {"Labels": dict(kwargs.get("labels") or {}), "Env": ["PATH=/bin", *env]},
        }
        self._refresh()

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.attrs["Config"]["Labels"]
        return labels

    @property
    def status(self) -> str:
        return "running" if self.running else "created"

    def _refresh(self) -> None:
        self.attrs["State"] = {"Running": self.running, "Status": self.status}
        ports: dict[str, Any] = {}
        if self.running:
            for spec in self.kwargs.get("ports") or {}:
                ports[spec] = [{"HostIp": "127.0.0.1", "HostPort": str(self.engine.host_port)}]
        self.attrs["NetworkSettings"] = {"Ports": ports}

    def start(self) -> None:
        self.starts += 1
        self.running = True

    def stop(self) -> None:
        self.running = False
        self._refresh()

    def reload(self) -> None:
        self._refresh()

    def remove(self, force: bool = False) -> None:
        assert force, "the backend must force-remove (running containers included)"
        if self not in self.engine.items:
            raise docker.errors.NotFound("No such container")
        self.engine.items.remove(self)
        self.engine.removed.append(self.id)


class FakeContainers:
    """containers.list/create/get/run over an in-memory list, with label filters like Docker."""

    def __init__(self, images: FakeImages) -> None:
        self.images = images
        self.items: list[FakeContainer] = []
        self.created: list[dict[str, Any]] = []
        self.removed: list[str] = []
        self.host_port = 1  # nothing listens there: health checks fail unless a test says so

    def list(self, **kwargs: Any) -> list[FakeContainer]:
        assert set(kwargs) <= {"all", "filters", "ignore_removed"}
        wanted = (kwargs.get("filters") or {}).get("label", [])
        return [
            container
            for container in self.items
            if (kwargs.get("all") or container.running)
            and all(self._has(container, w) for w in wanted)
        ]

    @staticmethod
    def _has(container: FakeContainer, wanted: str) -> bool:
        key, _, value = wanted.partition("=")
        return container.labels.get(key) == value

    def create(self, **kwargs: Any) -> FakeContainer:
        if kwargs["image"] not in self.images.present:
            raise docker.errors.ImageNotFound("No such image")
        if any(c.name == kwargs["name"] for c in self.items):
            raise docker.errors.APIError("Conflict", response=_Response(409))
        self.created.append(kwargs)
        container = FakeContainer(self, **kwargs)
        self.items.append(container)
        return container

    def get(self, container_id: str) -> FakeContainer:
        for container in self.items:
            if container.id == container_id:
                return container
        raise docker.errors.NotFound("No such container")

    def run(self, *args: Any, **kwargs: Any) -> FakeContainer:
        raise AssertionError("the backend creates and starts; it never uses run (which pulls)")


class _Response:
    """The bit of a requests.Response that docker.errors.APIError reads."""

    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.reason = "fake"


class FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present

    def get(self, name: str) -> object:
        if name not in self.present:
            raise docker.errors.ImageNotFound("No such image")
        return object()


class FakeClient:
    def __init__(self) -> None:
        self.images = FakeImages({"app:1", "app:2"})
        self.containers = FakeContainers(self.images)

    def ping(self) -> bool:
        return True


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def backend(client: FakeClient) -> DockerBackend:
    return DockerBackend(client_factory=lambda: client, health_timeout=0.5)


def config(**overrides: Any) -> dict[str, Any]:
    return {"image": "app:1", "env": {"API_TOKEN": SECRET}, **overrides}


# -- shape and laziness --------------------------------------------------------------------


def test_is_a_compute_backend_and_construction_never_calls_the_factory() -> None:
    calls: list[int] = []

    def factory() -> Any:
        calls.append(1)
        raise AssertionError("constructing the backend must not reach the engine")

    backend = DockerBackend(client_factory=factory)
    assert isinstance(backend, ComputeBackend)
    assert backend.name == "docker"
    assert calls == []


# -- config validation -----------------------------------------------------------------------


def test_validate_fills_defaults(backend: DockerBackend) -> None:
    assert backend.validate_config({"image": "app:1"}) == {
        "image": "app:1",
        "env": {},
        "port": 8080,
        "health_path": "/health",
        "command": None,
    }


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"env": {"API_TOKEN": SECRET}}, "image"),
        ({"image": "", "env": {"API_TOKEN": SECRET}}, "image"),
        ({**config(), "port": 0}, "port"),
        ({**config(), "port": 70000}, "port"),
        ({**config(), "port": "http"}, "port"),
        ({**config(), "health_path": "health"}, "health_path"),
        ({**config(), "command": []}, "command"),
        ({**config(), "volumes": ["/:/host"]}, "volumes"),
        ({"image": "app:1", "env": {"API_TOKEN": 42, "OTHER": SECRET}}, "env.API_TOKEN"),
    ],
)
def test_bad_config_names_the_key_in_one_line_without_values(
    backend: DockerBackend, bad: dict[str, Any], key: str
) -> None:
    with pytest.raises(ComputeConfigError) as caught:
        backend.validate_config(bad)
    message = str(caught.value)
    assert caught.value.key == key
    assert message.startswith(f"desired_config.{key}: ")
    assert "\n" not in message
    assert SECRET not in message
    assert "/:/host" not in message


async def test_steps_refuse_bad_config_before_touching_the_engine() -> None:
    def factory() -> Any:
        raise AssertionError("must not reach the engine with a bad config")

    with pytest.raises(ComputeConfigError, match=r"desired_config\.image"):
        await DockerBackend(client_factory=factory).provision(TENANT, {"env": {"A": SECRET}})


# -- provision -------------------------------------------------------------------------------


async def test_provision_creates_one_labelled_loopback_container(
    backend: DockerBackend, client: FakeClient
) -> None:
    state = await backend.provision(TENANT, backend.validate_config(config()))
    [created] = client.containers.created
    assert created["name"] == "landlord-tenant-acme"
    assert created["ports"] == {"8080/tcp": ("127.0.0.1", None)}
    assert created["environment"] == {"API_TOKEN": SECRET}
    labels = created["labels"]
    assert labels["landlord.managed"] == "true"
    assert labels["landlord.tenant"] == "acme"
    assert len(labels["landlord.config-hash"]) == 64
    assert SECRET not in "".join(labels.values()), "env values must not be written to labels"
    assert state.exists
    assert state.resource_ids == {"container_id": client.containers.items[0].id}
    assert state.endpoints == {"http": f"http://127.0.0.1:{client.containers.host_port}"}
    assert state.config == backend.validate_config(config()), "config is read back in full"
    assert not state.healthy, "nothing answers on the published port"


async def test_second_provision_reuses_the_labelled_container(
    backend: DockerBackend, client: FakeClient
) -> None:
    first = await backend.provision(TENANT, config())
    second = await backend.provision(TENANT, config())
    assert len(client.containers.created) == 1
    assert second.resource_ids == first.resource_ids


async def test_provision_starts_a_stopped_container_instead_of_creating(
    backend: DockerBackend, client: FakeClient
) -> None:
    await backend.provision(TENANT, config())
    [container] = client.containers.items
    container.stop()
    state = await backend.provision(TENANT, config())
    assert len(client.containers.created) == 1
    assert container.running
    assert container.starts == 2
    assert state.endpoints


async def test_found_by_label_not_by_name(backend: DockerBackend, client: FakeClient) -> None:
    client.containers.items.append(
        FakeContainer(client.containers, name="landlord-tenant-acme", image="x", labels={})
    )
    with pytest.raises(ComputeRejectedError, match="not labelled"):
        await backend.provision(TENANT, config())
    assert not (await backend.status(TENANT)).exists


async def test_image_not_found_is_rejected_without_echoing_env(backend: DockerBackend) -> None:
    with pytest.raises(ComputeRejectedError, match=r"desired_config\.image") as caught:
        await backend.provision(TENANT, config(image="missing:latest"))
    assert SECRET not in str(caught.value)


async def test_tenant_id_that_cannot_name_a_container_is_rejected(backend: DockerBackend) -> None:
    with pytest.raises(ComputeRejectedError, match="tenant_id"):
        await backend.provision(TenantRef(tenant_id="a/b"), config())


# -- update ----------------------------------------------------------------------------------


async def test_update_with_the_same_config_is_a_no_op(
    backend: DockerBackend, client: FakeClient
) -> None:
    first = await backend.provision(TENANT, config())
    again = await backend.update(TENANT, config())
    assert len(client.containers.created) == 1
    assert client.containers.removed == []
    assert again.resource_ids == first.resource_ids


async def test_update_with_a_changed_config_replaces_the_container(
    backend: DockerBackend, client: FakeClient
) -> None:
    first = await backend.provision(TENANT, config())
    changed = await backend.update(TENANT, config(image="app:2", env={"API_TOKEN": "rotated"}))
    assert client.containers.removed == [first.resource_ids["container_id"]]
    assert len(client.containers.items) == 1
    assert changed.resource_ids != first.resource_ids
    assert changed.config["image"] == "app:2"
    assert changed.config["env"] == {"API_TOKEN": "rotated"}


async def test_update_after_a_crash_mid_replace_creates_the_container(
    backend: DockerBackend, client: FakeClient
) -> None:
    # The old container was removed but the new one never created: the re-run must converge.
    state = await backend.update(TENANT, config(image="app:2"))
    assert state.exists
    assert len(client.containers.created) == 1


# -- destroy ---------------------------------------------------------------------------------


async def test_destroy_removes_every_labelled_container_only(
    backend: DockerBackend, client: FakeClient
) -> None:
    await backend.provision(TENANT, config())
    labels = dict(client.containers.items[0].labels)
    stray = FakeContainer(client.containers, name="leftover", image="app:1", labels=labels)
    other = FakeContainer(
        client.containers,
        name="landlord-tenant-other",
        image="app:1",
        labels={"landlord.managed": "true", "landlord.tenant": "other"},
    )
    client.containers.items += [stray, other]
    await backend.destroy(TENANT)
    assert client.containers.items == [other]
    assert not (await backend.status(TENANT)).exists


async def test_destroy_with_nothing_there_succeeds(
    backend: DockerBackend, client: FakeClient
) -> None:
    await backend.destroy(TENANT)
    await backend.destroy(TENANT)
    assert client.containers.removed == []


# -- status ----------------------------------------------------------------------------------


async def test_status_of_an_unknown_tenant(backend: DockerBackend) -> None:
    state = await backend.status(TENANT)
    assert not state.exists
    assert not state.healthy


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    """A loopback HTTP server standing in for the container's published port."""
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


async def test_status_is_healthy_only_when_the_health_path_answers_2xx(
    backend: DockerBackend, client: FakeClient, health_server: int
) -> None:
    client.containers.host_port = health_server
    healthy = await backend.provision(TENANT, config(health_path="/healthz"))
    assert healthy.healthy
    assert healthy.endpoints == {"http": f"http://127.0.0.1:{health_server}"}
    wrong_path = await backend.update(TENANT, config(health_path="/other"))
    assert wrong_path.exists
    assert not wrong_path.healthy
    assert "503" in wrong_path.detail
    client.containers.items[0].stop()
    stopped = await backend.status(TENANT)
    assert stopped.exists
    assert not stopped.healthy
    assert stopped.endpoints == {}


# -- engine unreachable ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "version",
    [
        pytest.param(None, id="client-creation-fails"),  # version "auto" asks the engine at once
        pytest.param("1.45", id="first-call-fails"),  # a pinned version connects on first call
    ],
)
async def test_unreachable_engine_is_a_transient_error_with_a_clear_message(
    version: str | None,
) -> None:
    backend = DockerBackend(
        client_factory=lambda: docker.DockerClient(
            base_url="unix:///nonexistent/docker.sock", version=version
        )
    )
    with pytest.raises(DockerUnavailableError, match="Docker engine unreachable") as caught:
        await backend.status(TENANT)
    assert not isinstance(caught.value, ComputeRejectedError)


async def test_reachable_pings_the_engine(backend: DockerBackend) -> None:
    assert await backend.reachable() == "the Docker engine answers"


@pytest.mark.parametrize("version", [None, "1.45"])
async def test_an_unreachable_engine_is_not_reachable(version: str | None) -> None:
    backend = DockerBackend(
        client_factory=lambda: docker.DockerClient(
            base_url="unix:///nonexistent/docker.sock", version=version
        )
    )
    with pytest.raises(DockerUnavailableError, match="Docker engine unreachable"):
        await backend.reachable()
