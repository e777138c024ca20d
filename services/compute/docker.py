"""A compute backend that runs each tenant as one labelled container on a Docker engine.

Everything is found again by label, never by name alone, so a step re-run after a crash reuses
the container the first attempt made. Env values may be secrets: they are passed to the
container but never written into labels, logs or exception messages.

One backend, one file (config, container spec, lifecycle): they change together.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import docker
import docker.errors
import httpx
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from ..contract import problems_from
from .protocol import ComputeConfigError, ComputeRejectedError, ComputeState, TenantRef

__all__ = ["DockerBackend", "DockerConfig", "DockerUnavailableError"]

NAME_PREFIX = "landlord-tenant-"
LABEL_MANAGED = "landlord.managed"
LABEL_TENANT = "landlord.tenant"
LABEL_CONFIG_HASH = "landlord.config-hash"
LABEL_CONFIG = "landlord.config"
LOOPBACK = "127.0.0.1"
# Docker container names: [a-zA-Z0-9][a-zA-Z0-9_.-]*; the prefix supplies the first character.
_TENANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class DockerUnavailableError(ConnectionError):
    """The Docker engine could not be reached or did not answer; transient, so the step retries."""


class DockerConfig(BaseModel):
    """The desired config of a tenant's container; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    port: int = Field(default=8080, ge=1, le=65535)
    health_path: str = Field(default="/health", pattern=r"^/\S*$")
    command: list[str] | None = Field(default=None, min_length=1)


def _parse(config: Mapping[str, Any]) -> DockerConfig:
    """Validate `config`; a broken rule becomes a one-line `ComputeConfigError` (no values)."""
    if not isinstance(config, Mapping):
        raise ComputeConfigError("", "desired_config must be a mapping")
    try:
        return DockerConfig.model_validate(dict(config))
    except ValidationError as error:
        problems = problems_from(error)
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ComputeConfigError(first.field, first.rule + more) from None


def _normalized(config: DockerConfig) -> dict[str, JsonValue]:
    """The config as plain JSON with every default filled in."""
    data: dict[str, JsonValue] = config.model_dump(mode="json")
    return data


def _config_hash(config: DockerConfig) -> str:
    """sha256 of the canonical JSON of the normalized config (env values included)."""
    canonical = json.dumps(_normalized(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _public_config(config: DockerConfig) -> str:
    """The normalized config as label JSON: env keys only, because env values may be secrets."""
    data = _normalized(config)
    env_keys: list[JsonValue] = [*sorted(config.env)]
    data["env"] = env_keys
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _container_name(tenant: TenantRef) -> str:
    """`landlord-tenant-<tenant_id>`, refusing ids Docker cannot put in a container name."""
    if not _TENANT_ID.fullmatch(tenant.tenant_id):
        raise ComputeRejectedError(
            "tenant_id cannot form a Docker container name (allowed: A-Z a-z 0-9 _ . -, 1-200)"
        )
    return NAME_PREFIX + tenant.tenant_id


def _labels(tenant: TenantRef, config: DockerConfig) -> dict[str, str]:
    """The labels that make a container findable as this tenant's, with its config hash."""
    return {
        LABEL_MANAGED: "true",
        LABEL_TENANT: tenant.tenant_id,
        LABEL_CONFIG_HASH: _config_hash(config),
        LABEL_CONFIG: _public_config(config),
    }


def _label(container: Any, key: str) -> str | None:
    """One label of a container (from its inspect data), or None."""
    labels = (container.attrs.get("Config") or {}).get("Labels") or {}
    value = labels.get(key)
    return value if isinstance(value, str) else None


def _is_running(container: Any) -> bool:
    """Whether the container's last inspect says it is running."""
    state = container.attrs.get("State") or {}
    return bool(state.get("Running")) if isinstance(state, dict) else container.status == "running"


def _host_port(container: Any, port: int) -> int | None:
    """The loopback host port Docker published for the container port, if it is running."""
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(f"{port}/tcp") or []:
        host_port = str(binding.get("HostPort") or "")
        if host_port.isdigit() and binding.get("HostIp") in (LOOPBACK, "", "0.0.0.0"):  # noqa: S104
            return int(host_port)
    return None


def _observed_config(container: Any) -> dict[str, JsonValue]:
    """The config read back: the label's JSON, with env values from the container's real Env."""
    raw = _label(container, LABEL_CONFIG)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        return {}
    listed = data.get("env")
    env_keys: list[Any] = listed if isinstance(listed, list) else []
    actual: dict[str, str] = {}
    for item in (container.attrs.get("Config") or {}).get("Env") or []:
        key, _, value = str(item).partition("=")
        actual[key] = value
    data["env"] = {key: actual[key] for key in env_keys if key in actual}
    observed: dict[str, JsonValue] = data
    return observed


def _pick(containers: list[Any], config_hash: str | None = None) -> Any:
    """The container to treat as the tenant's: matching hash first, then running ones."""
    return sorted(
        containers,
        key=lambda c: (
            config_hash is not None and _label(c, LABEL_CONFIG_HASH) == config_hash,
            _is_running(c),
        ),
        reverse=True,
    )[0]


class DockerBackend:
    """Runs each tenant as one container on a Docker engine, published on 127.0.0.1."""

    name = "docker"

    def __init__(
        self,
        *,
        client_factory: Callable[[], docker.DockerClient] = docker.from_env,
        network: str | None = None,
        health_timeout: float = 2.0,
    ) -> None:
        """Remember how to reach the engine; the client is made on first use, not here."""
        self._client_factory = client_factory
        self._network = network
        self._health_timeout = health_timeout
        self._client: Any = None
        self._client_lock = threading.Lock()

    # -- the ComputeBackend protocol ---------------------------------------------------------

    def validate_config(self, config: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """Check the desired config before any step runs; return it with defaults filled in."""
        return _normalized(_parse(config))

    async def provision(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Start the tenant's labelled container, reusing one an earlier attempt created."""
        parsed = _parse(config)
        container = await asyncio.to_thread(self._provision_sync, tenant, parsed)
        return await self._state(container)

    async def update(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Replace the container when the config hash changed; same hash → leave it running."""
        parsed = _parse(config)
        container = await asyncio.to_thread(self._update_sync, tenant, parsed)
        return await self._state(container)

    async def destroy(self, tenant: TenantRef) -> None:
        """Force-remove every container labelled with the tenant; none there → success."""
        await asyncio.to_thread(self._destroy_sync, tenant)

    async def status(self, tenant: TenantRef) -> ComputeState:
        """Observe the tenant's container: existence, health over HTTP, config, port."""
        containers = await asyncio.to_thread(self._find, tenant)
        if not containers:
            return ComputeState(exists=False, detail="no container labelled for this tenant")
        return await self._state(_pick(containers))

    async def reachable(self) -> str:
        """Ping the engine."""
        await asyncio.to_thread(lambda: self._call("ping the engine", self._engine().ping))
        return "the Docker engine answers"

    # -- engine access (blocking; always run in a worker thread) -----------------------------

    def _engine(self) -> Any:
        """The Docker client, made on first use; an unreachable engine is a transient error."""
        with self._client_lock:
            if self._client is None:
                try:
                    self._client = self._client_factory()
                except docker.errors.DockerException as error:
                    raise DockerUnavailableError(
                        "Docker engine unreachable (DOCKER_HOST or the default socket): "
                        f"{type(error).__name__}"
                    ) from error
            return self._client

    def _call(self, action: str, fn: Callable[[], Any]) -> Any:
        """Run one engine call; connection failures become `DockerUnavailableError`."""
        try:
            return fn()
        except docker.errors.APIError:
            raise
        except (OSError, docker.errors.DockerException) as error:
            # requests' ConnectionError/Timeout are OSErrors; docker-py does not wrap them.
            raise DockerUnavailableError(
                f"Docker engine unreachable while trying to {action}: {type(error).__name__}"
            ) from error

    def _find(self, tenant: TenantRef) -> list[Any]:
        """Every container (running or not) carrying the tenant's labels."""
        client = self._engine()
        filters = {"label": [f"{LABEL_MANAGED}=true", f"{LABEL_TENANT}={tenant.tenant_id}"]}
        found = self._call(
            "list containers",
            lambda: client.containers.list(all=True, filters=filters, ignore_removed=True),
        )
        # The engine filters already; checking again keeps a sloppy filter from matching others.
        return [c for c in found if _label(c, LABEL_TENANT) == tenant.tenant_id]

    def _start(self, container: Any) -> Any:
        """Start the container unless it runs, then re-read it (published ports appear)."""
        if not _is_running(container):
            try:
                self._call("start a container", container.start)
            except docker.errors.APIError as error:
                if error.is_client_error() and error.status_code != 409:
                    raise ComputeRejectedError(
                        f"Docker refused to start the tenant's container (HTTP {error.status_code})"
                    ) from None
                raise
        self._call("inspect a container", container.reload)
        return container

    def _create(self, tenant: TenantRef, config: DockerConfig) -> Any:
        """Create and start the tenant's container, publishing its port on a loopback port."""
        client = self._engine()
        name = _container_name(tenant)
        try:
            container = self._call(
                "create a container",
                lambda: client.containers.create(
                    image=config.image,
                    command=config.command,
                    name=name,
                    labels=_labels(tenant, config),
                    environment=dict(config.env),
                    ports={f"{config.port}/tcp": (LOOPBACK, None)},
                    network=self._network,
                    restart_policy={"Name": "unless-stopped"},
                    detach=True,
                ),
            )
        except docker.errors.ImageNotFound:
            raise ComputeRejectedError(
                "desired_config.image: image not found on the Docker engine "
                "(this backend does not pull; build or pull it first)"
            ) from None
        except docker.errors.NotFound:
            raise ComputeRejectedError(
                f"Docker engine refused the container: not found (network {self._network!r}?)"
            ) from None
        except docker.errors.APIError as error:
            if error.status_code == 409:
                # The name is taken: ours from a racing attempt (reuse it) or someone else's.
                existing = self._find(tenant)
                if existing:
                    return self._start(_pick(existing, _config_hash(config)))
                raise ComputeRejectedError(
                    f"a container named {name!r} exists but is not labelled as this tenant's"
                ) from None
            if error.is_client_error():
                raise ComputeRejectedError(
                    f"Docker engine refused the container (HTTP {error.status_code})"
                ) from None
            raise
        return self._start(container)

    def _remove(self, container: Any) -> None:
        """Force-remove one container; already gone counts as removed."""
        with contextlib.suppress(docker.errors.NotFound):
            self._call("remove a container", lambda: container.remove(force=True))

    def _provision_sync(self, tenant: TenantRef, config: DockerConfig) -> Any:
        """Find the tenant's container and make sure it runs, or create it."""
        existing = self._find(tenant)
        if existing:
            return self._start(_pick(existing, _config_hash(config)))
        return self._create(tenant, config)

    def _update_sync(self, tenant: TenantRef, config: DockerConfig) -> Any:
        """Keep a container whose hash matches (started), else replace it; also drop leftovers."""
        wanted = _config_hash(config)
        existing = self._find(tenant)
        keep = [c for c in existing if _label(c, LABEL_CONFIG_HASH) == wanted][:1]
        for container in existing:
            if container not in keep:
                self._remove(container)
        if keep:
            return self._start(keep[0])
        # Nothing (left) to keep: a fresh container; also recovers a replace cut short by a crash.
        return self._create(tenant, config)

    def _destroy_sync(self, tenant: TenantRef) -> None:
        """Remove every labelled container of the tenant."""
        for container in self._find(tenant):
            self._remove(container)

    # -- observation --------------------------------------------------------------------------

    async def _state(self, container: Any) -> ComputeState:
        """What `status` reports for one container, including an HTTP health check."""
        config = _observed_config(container)
        port = config.get("port")
        health_path = config.get("health_path")
        host_port = _host_port(container, port) if isinstance(port, int) else None
        running = _is_running(container)
        endpoints: dict[str, str] = {}
        healthy = False
        detail = "running" if running else f"container is {container.status}"
        if running and host_port is not None:
            base = f"http://{LOOPBACK}:{host_port}"
            endpoints["http"] = base
            path = health_path if isinstance(health_path, str) else "/health"
            healthy, detail = await self._check(base + path)
        elif running:
            detail = "running, but no published loopback port"
        return ComputeState(
            exists=True,
            healthy=healthy,
            config=config,
            resource_ids={"container_id": str(container.id)},
            endpoints=endpoints,
            detail=detail,
        )

    async def _check(self, url: str) -> tuple[bool, str]:
        """One GET of the health URL: 2xx is healthy; anything else says why not."""
        try:
            async with httpx.AsyncClient(timeout=self._health_timeout, trust_env=False) as http:
                response = await http.get(url)
        except httpx.HTTPError as error:
            return False, f"health check failed: {type(error).__name__}"
        if response.is_success:
            return True, f"healthy (HTTP {response.status_code})"
        return False, f"health check answered HTTP {response.status_code}"
