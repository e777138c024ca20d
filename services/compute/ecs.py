"""A compute backend that runs each tenant as one ECS service (and its task definition).

Names are derived from the tenant (`landlord-tenant-<tenant_id>`) and everything is tagged with
it, so a step re-run after a crash finds what the first attempt made; `create_service` also
carries a deterministic client token so a retried create is idempotent at the API itself.

One backend, one file, longer than most: its config model, the task definition it derives
and the service lifecycle change together whenever ECS does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, ValidationError

from ..contract import problems_from
from .protocol import ComputeConfigError, ComputeRejectedError, ComputeState, TenantRef

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_ecs.type_defs import (
        ContainerDefinitionOutputTypeDef,
        ContainerDefinitionTypeDef,
        CreateServiceRequestTypeDef,
        NetworkConfigurationTypeDef,
        RegisterTaskDefinitionRequestTypeDef,
        ServiceTypeDef,
        TagTypeDef,
        TaskDefinitionTypeDef,
        UpdateServiceRequestTypeDef,
    )

__all__ = ["EcsBackend", "EcsConfig"]

NAME_PREFIX = "landlord-tenant-"
CONTAINER_NAME = "app"
TAG_MANAGED = "landlord.managed"
TAG_TENANT = "landlord.tenant"
TAG_CONFIG_HASH = "landlord.config-hash"
TAG_TASKDEF_HASH = "landlord.taskdef-hash"
TAG_CLUSTER = "landlord.cluster"
# Service names and task definition families: letters, digits, '-' and '_', at most 255.
_TENANT_ID = re.compile(rf"^[A-Za-z0-9_-]{{1,{255 - len(NAME_PREFIX)}}}$")
# Errors retrying cannot fix: the request itself is wrong for this account or cluster.
_PERMANENT_CODES = frozenset(
    {
        "ClusterNotFoundException",
        "InvalidParameterException",
        "ClientException",
        "AccessDeniedException",
        "UnsupportedFeatureException",
        "PlatformUnknownException",
        "PlatformTaskDefinitionIncompatibilityException",
    }
)
_GONE_CODES = frozenset({"ServiceNotFoundException", "ServiceNotActiveException"})
_MESSAGE_LIMIT = 300


def _number_to_str(value: object) -> object:
    """Accept `cpu: 256` as well as `cpu: "256"` (ECS wants strings)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


_Units = Annotated[str, BeforeValidator(_number_to_str), Field(min_length=1)]


class EcsConfig(BaseModel):
    """The desired config of a tenant's ECS service; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cluster: str = Field(min_length=1)
    image: str = Field(min_length=1)
    cpu: _Units = "256"
    memory: _Units = "512"
    container_port: int = Field(default=8080, ge=1, le=65535)
    desired_count: int = Field(default=1, ge=0)
    launch_type: Literal["FARGATE", "EC2"] = "FARGATE"
    subnets: list[str] = Field(default_factory=list)
    security_groups: list[str] = Field(default_factory=list)
    assign_public_ip: bool = False
    env: dict[str, str] = Field(default_factory=dict)
    execution_role_arn: str | None = Field(default=None, pattern=r"^arn:")


def _parse(config: Mapping[str, Any]) -> EcsConfig:
    """Validate `config`; a broken rule becomes a one-line `ComputeConfigError` (no values)."""
    if not isinstance(config, Mapping):
        raise ComputeConfigError("", "desired_config must be a mapping")
    try:
        parsed = EcsConfig.model_validate(dict(config))
    except ValidationError as error:
        problems = problems_from(error)
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ComputeConfigError(first.field, first.rule + more) from None
    if parsed.launch_type == "FARGATE" and not parsed.subnets:
        raise ComputeConfigError("subnets", "at least one is required when launch_type is FARGATE")
    if parsed.security_groups and not parsed.subnets:
        raise ComputeConfigError("security_groups", "needs subnets (awsvpc networking)")
    if parsed.assign_public_ip and parsed.launch_type != "FARGATE":
        raise ComputeConfigError("assign_public_ip", "only allowed with launch_type FARGATE")
    return parsed


def _normalized(config: EcsConfig) -> dict[str, JsonValue]:
    """The config as plain JSON with every default filled in."""
    data: dict[str, JsonValue] = config.model_dump(mode="json")
    return data


def _digest(data: Mapping[str, Any]) -> str:
    """sha256 of canonical JSON."""
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _config_hash(config: EcsConfig) -> str:
    """Hash of the whole normalized config (service and task definition fields)."""
    return _digest(_normalized(config))


def _taskdef_hash(config: EcsConfig) -> str:
    """Hash of the fields that end up in the task definition, to reuse an identical revision."""
    return _digest(
        config.model_dump(
            mode="json",
            include={"image", "cpu", "memory", "container_port", "env", "execution_role_arn"},
        )
        | {"launch_type": config.launch_type, "network_mode": _network_mode(config)}
    )


def _network_mode(config: EcsConfig) -> Literal["awsvpc", "bridge"]:
    """awsvpc whenever subnets are given (always for Fargate), else bridge (EC2 only)."""
    return "awsvpc" if config.subnets else "bridge"


def _network(config: EcsConfig) -> NetworkConfigurationTypeDef | None:
    """The service's awsvpc network configuration, or None in bridge mode."""
    if not config.subnets:
        return None
    return {
        "awsvpcConfiguration": {
            "subnets": list(config.subnets),
            "securityGroups": list(config.security_groups),
            "assignPublicIp": "ENABLED" if config.assign_public_ip else "DISABLED",
        }
    }


def _name(tenant: TenantRef) -> str:
    """The service name and task definition family, refusing ids ECS cannot take."""
    if not _TENANT_ID.fullmatch(tenant.tenant_id):
        raise ComputeRejectedError(
            "tenant_id cannot form an ECS service name (allowed: A-Z a-z 0-9 _ -, "
            f"at most {255 - len(NAME_PREFIX)} characters)"
        )
    return NAME_PREFIX + tenant.tenant_id


def _client_token(tenant: TenantRef, config_hash: str, task_definition_arn: str) -> str:
    """A deterministic create_service token (at most 36 characters): the same for a retried
    create, new after a destroy (the re-registered task definition has a new revision)."""
    seed = f"landlord:{tenant.tenant_id}:{config_hash}:{task_definition_arn}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _tag(tags: Sequence[TagTypeDef] | None, key: str) -> str | None:
    """The value of one tag, or None."""
    for tag in tags or []:
        if tag.get("key") == key:
            return tag.get("value")
    return None


def _is_ours(service: ServiceTypeDef, tenant: TenantRef) -> bool:
    """Whether a service carries this tenant's landlord tags."""
    tags = service.get("tags")
    return _tag(tags, TAG_MANAGED) == "true" and _tag(tags, TAG_TENANT) == tenant.tenant_id


def _code(error: ClientError) -> str:
    """The AWS error code of a botocore `ClientError`."""
    return str(error.response.get("Error", {}).get("Code", ""))


def _cluster_name(cluster: str) -> str:
    """`c1` for both `c1` and `arn:aws:ecs:…:cluster/c1`."""
    return cluster.rsplit("/", 1)[-1]


class EcsBackend:
    """Runs each tenant as one ECS service named `landlord-tenant-<tenant_id>`."""

    name = "ecs"

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        """Remember how to reach ECS; the client (and the credential lookup) happens on use."""
        self._region = region
        self._endpoint_url = endpoint_url
        self._client_factory = client_factory
        self._client: ECSClient | None = None
        self._client_lock = threading.Lock()

    # -- the ComputeBackend protocol ---------------------------------------------------------

    def validate_config(self, config: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """Check the desired config before any step runs; return it with defaults filled in."""
        return _normalized(_parse(config))

    async def provision(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Create the tenant's service, or reuse the ACTIVE one an earlier attempt created."""
        parsed = _parse(config)
        return await asyncio.to_thread(self._provision_sync, tenant, parsed)

    async def update(self, tenant: TenantRef, config: dict[str, JsonValue]) -> ComputeState:
        """Roll the service to `config`; same config hash → no change at all."""
        parsed = _parse(config)
        return await asyncio.to_thread(self._update_sync, tenant, parsed)

    async def destroy(self, tenant: TenantRef) -> None:
        """Scale to 0 and delete the tenant's service(s), then deregister its task definitions."""
        await asyncio.to_thread(self._destroy_sync, tenant)

    async def status(self, tenant: TenantRef) -> ComputeState:
        """Observe the tenant's ACTIVE service in whichever cluster it runs."""
        return await asyncio.to_thread(self._status_sync, tenant)

    async def reachable(self) -> str:
        """List one cluster: the credentials and the ECS endpoint both answer."""
        client = await asyncio.to_thread(self._ecs)
        await asyncio.to_thread(lambda: client.list_clusters(maxResults=1))
        return f"ECS answers in {client.meta.region_name}"

    # -- ECS access (blocking; always run in a worker thread) --------------------------------

    def _ecs(self) -> ECSClient:
        """The ECS client, made on first use (credentials from the standard AWS chain)."""
        with self._client_lock:
            if self._client is None:
                if self._client_factory is not None:
                    self._client = self._client_factory()
                else:
                    # A private session: boto3's default session is not thread-safe.
                    self._client = boto3.session.Session().client(
                        "ecs", region_name=self._region, endpoint_url=self._endpoint_url
                    )
            assert self._client is not None
            return self._client

    @contextmanager
    def _rejections(self, action: str, config: EcsConfig) -> Iterator[None]:
        """Turn ECS errors retrying cannot fix into `ComputeRejectedError`; re-raise the rest."""
        try:
            yield
        except ClientError as error:
            code = _code(error)
            if code not in _PERMANENT_CODES:
                raise
            message = str(error.response.get("Error", {}).get("Message", ""))
            for secret in config.env.values():
                if secret:
                    message = message.replace(secret, "***")
            raise ComputeRejectedError(
                f"ECS refused to {action} in cluster {config.cluster!r}: {code}: "
                f"{message[:_MESSAGE_LIMIT]}"
            ) from None

    def _service_in(self, cluster: str, name: str) -> ServiceTypeDef | None:
        """The ACTIVE (else DRAINING) service called `name` in `cluster`, with its tags."""
        found = self._ecs().describe_services(cluster=cluster, services=[name], include=["TAGS"])
        services = [s for s in found.get("services", []) if s.get("serviceName") == name]
        for wanted in ("ACTIVE", "DRAINING"):
            for service in services:
                if service.get("status") == wanted:
                    return service
        return None

    def _scan(self, tenant: TenantRef) -> list[ServiceTypeDef]:
        """The tenant's ACTIVE services in every cluster of the account and region."""
        name = _name(tenant)
        ecs = self._ecs()
        found: list[ServiceTypeDef] = []
        for page in ecs.get_paginator("list_clusters").paginate():
            for cluster in page.get("clusterArns", []):
                try:
                    service = self._service_in(cluster, name)
                except ClientError as error:
                    if _code(error) == "ClusterNotFoundException":
                        continue  # deleted between the listing and the look
                    raise
                if service and service.get("status") == "ACTIVE" and _is_ours(service, tenant):
                    found.append(service)
        return found

    def _existing(self, tenant: TenantRef, config: EcsConfig) -> ServiceTypeDef | None:
        """The tenant's ACTIVE service in the configured cluster, refusing a foreign namesake."""
        with self._rejections("look up the tenant's service", config):
            service = self._service_in(config.cluster, _name(tenant))
        if service is None:
            return None
        if service.get("status") == "DRAINING":
            # Transient: ECS refuses to create a service while its namesake is still draining.
            raise RuntimeError(
                f"the tenant's previous service in cluster {config.cluster!r} is still draining"
            )
        if not _is_ours(service, tenant):
            raise ComputeRejectedError(
                f"a service named {_name(tenant)!r} exists in cluster {config.cluster!r} "
                "but is not tagged as this tenant's"
            )
        return service

    def _task_definition(self, tenant: TenantRef, config: EcsConfig) -> str:
        """The ARN of an ACTIVE revision matching `config`, registering one only if needed."""
        ecs = self._ecs()
        family = _name(tenant)
        wanted = _taskdef_hash(config)
        try:
            latest = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
        except ClientError as error:
            if _code(error) != "ClientException":  # ClientException: no such family yet
                raise
        else:
            described = latest.get("taskDefinition", {})
            if (
                described.get("status") == "ACTIVE"
                and _tag(latest.get("tags"), TAG_TASKDEF_HASH) == wanted
                and described.get("taskDefinitionArn")
            ):
                return described["taskDefinitionArn"]
        container: ContainerDefinitionTypeDef = {
            "name": CONTAINER_NAME,
            "image": config.image,
            "essential": True,
            "portMappings": [{"containerPort": config.container_port, "protocol": "tcp"}],
            "environment": [{"name": k, "value": v} for k, v in sorted(config.env.items())],
        }
        request: RegisterTaskDefinitionRequestTypeDef = {
            "family": family,
            "containerDefinitions": [container],
            "cpu": config.cpu,
            "memory": config.memory,
            "networkMode": _network_mode(config),
            "requiresCompatibilities": [config.launch_type],
            "tags": [
                {"key": TAG_MANAGED, "value": "true"},
                {"key": TAG_TENANT, "value": tenant.tenant_id},
                {"key": TAG_CONFIG_HASH, "value": _config_hash(config)},
                {"key": TAG_TASKDEF_HASH, "value": wanted},
            ],
        }
        if config.execution_role_arn:
            request["executionRoleArn"] = config.execution_role_arn
        with self._rejections("register the task definition", config):
            registered = ecs.register_task_definition(**request)
        return registered["taskDefinition"]["taskDefinitionArn"]

    def _create(self, tenant: TenantRef, config: EcsConfig) -> ServiceTypeDef:
        """Register (or reuse) the task definition and create the tenant's service."""
        config_hash = _config_hash(config)
        task_definition = self._task_definition(tenant, config)
        request: CreateServiceRequestTypeDef = {
            "cluster": config.cluster,
            "serviceName": _name(tenant),
            "taskDefinition": task_definition,
            "desiredCount": config.desired_count,
            "launchType": config.launch_type,
            "clientToken": _client_token(tenant, config_hash, task_definition),
            "tags": [
                {"key": TAG_MANAGED, "value": "true"},
                {"key": TAG_TENANT, "value": tenant.tenant_id},
                {"key": TAG_CONFIG_HASH, "value": config_hash},
                {"key": TAG_CLUSTER, "value": config.cluster},
            ],
        }
        network = _network(config)
        if network is not None:
            request["networkConfiguration"] = network
        with self._rejections("create the tenant's service", config):
            self._ecs().create_service(**request)
        return self._fresh(tenant, config)

    def _fresh(self, tenant: TenantRef, config: EcsConfig) -> ServiceTypeDef:
        """Describe the tenant's service again after a change (with tags)."""
        service = self._existing(tenant, config)
        if service is None:
            raise RuntimeError(  # eventual consistency: the step is retried and finds it
                f"the tenant's service is not visible yet in cluster {config.cluster!r}"
            )
        return service

    def _provision_sync(self, tenant: TenantRef, config: EcsConfig) -> ComputeState:
        """Reuse the ACTIVE service in the configured cluster, or create it."""
        service = self._existing(tenant, config)
        if service is None:
            service = self._create(tenant, config)
        return self._state(service)

    def _update_sync(self, tenant: TenantRef, config: EcsConfig) -> ComputeState:
        """Leave a service whose config hash matches; else roll it to a new task definition."""
        config_hash = _config_hash(config)
        service = self._existing(tenant, config)
        if service is None:
            elsewhere = self._scan(tenant)
            if elsewhere:
                raise ComputeRejectedError(
                    "desired_config.cluster: the tenant's service runs in cluster "
                    f"{_cluster_name(elsewhere[0].get('clusterArn', '?'))!r}; moving a tenant "
                    "between clusters is not supported (delete it, then provision)"
                )
            # Nothing there (e.g. removed out of band): converge by creating it.
            return self._state(self._create(tenant, config))
        if _tag(service.get("tags"), TAG_CONFIG_HASH) == config_hash:
            return self._state(service)
        if service.get("launchType") != config.launch_type:
            raise ComputeRejectedError(
                "desired_config.launch_type: cannot change on an existing service "
                "(delete it, then provision)"
            )
        request: UpdateServiceRequestTypeDef = {
            "cluster": config.cluster,
            "service": _name(tenant),
            "taskDefinition": self._task_definition(tenant, config),
            "desiredCount": config.desired_count,
        }
        network = _network(config)
        if network is not None:
            request["networkConfiguration"] = network
        ecs = self._ecs()
        with self._rejections("update the tenant's service", config):
            ecs.update_service(**request)
        # Tag last: a crash before this re-runs the (idempotent) update on retry.
        ecs.tag_resource(
            resourceArn=service["serviceArn"],
            tags=[
                {"key": TAG_CONFIG_HASH, "value": config_hash},
                {"key": TAG_CLUSTER, "value": config.cluster},
            ],
        )
        return self._state(self._fresh(tenant, config))

    def _destroy_sync(self, tenant: TenantRef) -> None:
        """Delete every ACTIVE service of the tenant, then its ACTIVE task definitions."""
        ecs = self._ecs()
        name = _name(tenant)
        for service in self._scan(tenant):
            cluster = service.get("clusterArn", "")
            try:
                ecs.update_service(cluster=cluster, service=name, desiredCount=0)
                ecs.delete_service(cluster=cluster, service=name, force=True)
            except ClientError as error:
                if _code(error) not in _GONE_CODES:
                    raise
        arns: list[str] = []
        paginator = ecs.get_paginator("list_task_definitions")
        for page in paginator.paginate(familyPrefix=name, status="ACTIVE"):
            arns.extend(page.get("taskDefinitionArns", []))
        for arn in arns:
            # ARN …:task-definition/<family>:<revision>; familyPrefix alone is not exact.
            if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] != name:
                continue
            try:
                ecs.deregister_task_definition(taskDefinition=arn)
            except ClientError as error:
                if _code(error) != "ClientException":  # already deregistered
                    raise

    def _status_sync(self, tenant: TenantRef) -> ComputeState:
        """The state of the tenant's service, wherever it is."""
        services = self._scan(tenant)
        if not services:
            return ComputeState(exists=False, detail="no ACTIVE service for this tenant")
        return self._state(services[0])

    # -- observation --------------------------------------------------------------------------

    def _state(self, service: ServiceTypeDef) -> ComputeState:
        """Exists/healthy from the service's counts; config read back from service and task."""
        task_arn = service.get("taskDefinition", "")
        task: TaskDefinitionTypeDef = {}
        if task_arn:
            task = self._ecs().describe_task_definition(taskDefinition=task_arn)["taskDefinition"]
        desired = service.get("desiredCount", 0)
        running = service.get("runningCount", 0)
        pending = service.get("pendingCount", 0)
        healthy = running >= desired
        return ComputeState(
            exists=True,
            healthy=healthy,
            config=_observed_config(service, task),
            resource_ids={
                "service_arn": service.get("serviceArn", ""),
                "task_definition_arn": task_arn,
                "cluster": service.get("clusterArn", ""),
            },
            detail=f"{running}/{desired} tasks running, {pending} pending",
        )


def _observed_config(service: ServiceTypeDef, task: TaskDefinitionTypeDef) -> dict[str, JsonValue]:
    """The config as ECS reports it, in the shape of the normalized desired config."""
    containers = task.get("containerDefinitions", [])
    container: ContainerDefinitionOutputTypeDef = {}
    for candidate in containers:
        if candidate.get("name") == CONTAINER_NAME or not container:
            container = candidate
    ports = container.get("portMappings", [])
    network = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    cluster = _cluster_name(service.get("clusterArn", ""))
    spelled = _tag(service.get("tags"), TAG_CLUSTER)
    if spelled and _cluster_name(spelled) == cluster:
        cluster = spelled  # the config's own spelling (name or ARN) of the same cluster
    observed: dict[str, JsonValue] = {
        "cluster": cluster,
        "image": container.get("image"),
        "cpu": task.get("cpu"),
        "memory": task.get("memory"),
        "container_port": ports[0].get("containerPort") if ports else None,
        "desired_count": service.get("desiredCount"),
        "launch_type": service.get("launchType"),
        "subnets": list(network.get("subnets", [])),
        "security_groups": list(network.get("securityGroups", [])),
        "assign_public_ip": network.get("assignPublicIp") == "ENABLED",
        "env": {
            kv["name"]: kv.get("value", "")
            for kv in container.get("environment", [])
            if "name" in kv
        },
        "execution_role_arn": task.get("executionRoleArn"),
    }
    return observed
