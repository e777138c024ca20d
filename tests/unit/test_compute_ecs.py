"""EcsBackend against moto's in-process ECS (and EC2, for the subnets ECS checks).

What moto does not model, and so these tests cannot show: tasks never actually run, so
`runningCount` is whatever MOTO_ECS_SERVICE_RUNNING says at create time (0 by default) and moto
sets it to `desiredCount` on any `update_service` that passes a count; `clientToken` is stored
but not used for idempotency (a second create_service of an ACTIVE service just replaces it);
no throttling or 5xx is ever returned (the transient path is shown with a fake client instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from services.compute.ecs import EcsBackend
from services.compute.protocol import (
    ComputeBackend,
    ComputeConfigError,
    ComputeRejectedError,
    TenantRef,
)
from tests.aws import fake_aws

REGION = "us-east-1"
CLUSTER = "tenants"
SECRET = "s3cr3t-value-never-echoed"
TENANT = TenantRef(tenant_id="acme")
SERVICE = "landlord-tenant-acme"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and region, nothing from the real environment, moto intercepting."""
    with fake_aws(
        monkeypatch, region=REGION, unset=("AWS_ENDPOINT_URL_ECS", "MOTO_ECS_SERVICE_RUNNING")
    ):
        yield


@pytest.fixture
def ecs(aws: None) -> Any:
    client = boto3.client("ecs", region_name=REGION)
    client.create_cluster(clusterName=CLUSTER)
    return client


@pytest.fixture
def subnet(aws: None) -> str:
    """A subnet moto knows: ECS checks awsvpc subnets against EC2."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id: str = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    return subnet_id


@pytest.fixture
def backend(ecs: Any) -> EcsBackend:
    return EcsBackend(region=REGION)


@pytest.fixture
def config(subnet: str) -> dict[str, Any]:
    return {
        "cluster": CLUSTER,
        "image": "registry.example/app:1",
        "subnets": [subnet],
        "env": {"API_TOKEN": SECRET},
    }


def revisions(ecs: Any) -> list[str]:
    arns: list[str] = ecs.list_task_definitions(familyPrefix=SERVICE, status="ACTIVE")[
        "taskDefinitionArns"
    ]
    return arns


def active_services(ecs: Any) -> list[dict[str, Any]]:
    arns = ecs.list_services(cluster=CLUSTER)["serviceArns"]
    if not arns:
        return []
    found = ecs.describe_services(cluster=CLUSTER, services=arns)["services"]
    return [s for s in found if s["status"] == "ACTIVE"]


# -- shape and laziness --------------------------------------------------------------------


def test_is_a_compute_backend_and_construction_never_makes_a_client() -> None:
    def factory() -> Any:
        raise AssertionError("constructing the backend must not build a client")

    backend = EcsBackend(client_factory=factory)
    assert isinstance(backend, ComputeBackend)
    assert backend.name == "ecs"


# -- config validation -----------------------------------------------------------------------


def test_validate_fills_defaults() -> None:
    normalized = EcsBackend().validate_config(
        {"cluster": "c", "image": "i", "subnets": ["subnet-1"], "cpu": 512}
    )
    assert normalized == {
        "cluster": "c",
        "image": "i",
        "cpu": "512",
        "memory": "512",
        "container_port": 8080,
        "desired_count": 1,
        "launch_type": "FARGATE",
        "subnets": ["subnet-1"],
        "security_groups": [],
        "assign_public_ip": False,
        "env": {},
        "execution_role_arn": None,
    }


GOOD: dict[str, Any] = {"cluster": "c", "image": "i", "subnets": ["s"], "env": {"K": SECRET}}


@pytest.mark.parametrize(
    ("bad", "key"),
    [
        ({"image": "i", "subnets": ["s"], "env": {"K": SECRET}}, "cluster"),
        ({"cluster": "c", "subnets": ["s"], "env": {"K": SECRET}}, "image"),
        ({**GOOD, "container_port": 0}, "container_port"),
        ({**GOOD, "desired_count": -1}, "desired_count"),
        ({**GOOD, "launch_type": "LAMBDA"}, "launch_type"),
        ({**GOOD, "subnets": []}, "subnets"),
        ({**GOOD, "execution_role_arn": "not-an-arn"}, "execution_role_arn"),
        (
            {**GOOD, "launch_type": "EC2", "subnets": [], "assign_public_ip": True},
            "assign_public_ip",
        ),
        (
            {**GOOD, "subnets": [], "launch_type": "EC2", "security_groups": ["sg"]},
            "security_groups",
        ),
        ({**GOOD, "replicas": 3}, "replicas"),
        ({**GOOD, "env": {"K": 1, "OTHER": SECRET}}, "env.K"),
    ],
)
def test_bad_config_names_the_key_in_one_line_without_values(bad: dict[str, Any], key: str) -> None:
    with pytest.raises(ComputeConfigError) as caught:
        EcsBackend().validate_config(bad)
    message = str(caught.value)
    assert caught.value.key == key
    assert message.startswith(f"desired_config.{key}: ")
    assert "\n" not in message
    assert SECRET not in message


def test_ec2_without_subnets_is_valid() -> None:
    normalized = EcsBackend().validate_config({"cluster": "c", "image": "i", "launch_type": "EC2"})
    assert normalized["subnets"] == []


# -- provision -------------------------------------------------------------------------------


async def test_provision_creates_one_service_and_a_rerun_reuses_it(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    first = await backend.provision(TENANT, backend.validate_config(config))
    second = await backend.provision(TENANT, config)
    assert ecs.list_services(cluster=CLUSTER)["serviceArns"] == [first.resource_ids["service_arn"]]
    assert len(revisions(ecs)) == 1, "the re-run registered no second task definition"
    assert second.resource_ids == first.resource_ids

    [service] = ecs.describe_services(cluster=CLUSTER, services=[SERVICE], include=["TAGS"])[
        "services"
    ]
    tags = {t["key"]: t["value"] for t in service["tags"]}
    assert tags["landlord.managed"] == "true"
    assert tags["landlord.tenant"] == "acme"
    assert len(tags["landlord.config-hash"]) == 64
    task = ecs.describe_task_definition(taskDefinition=SERVICE)["taskDefinition"]
    assert task["family"] == SERVICE
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"


async def test_provision_reuses_a_task_definition_left_by_a_crashed_attempt(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    await backend.provision(TENANT, config)
    # Simulate a crash after register_task_definition but before create_service.
    ecs.delete_service(cluster=CLUSTER, service=SERVICE, force=True)
    await backend.provision(TENANT, config)
    assert len(revisions(ecs)) == 1
    assert len(active_services(ecs)) == 1


async def test_create_token_is_stable_on_retry_and_new_after_destroy(
    ecs: Any, config: dict[str, Any]
) -> None:
    tokens: list[str] = []

    def factory() -> Any:
        client = boto3.client("ecs", region_name=REGION)
        client.meta.events.register(
            "before-parameter-build.ecs.CreateService",
            lambda params, **_: tokens.append(params["clientToken"]),
        )
        return client

    backend = EcsBackend(client_factory=factory)
    await backend.provision(TENANT, config)
    ecs.delete_service(cluster=CLUSTER, service=SERVICE, force=True)  # as if the answer was lost
    await backend.provision(TENANT, config)
    await backend.destroy(TENANT)
    await backend.provision(TENANT, config)
    assert len(tokens) == 3
    assert tokens[0] == tokens[1], "a retried create sends the same token"
    assert tokens[2] != tokens[0], "a create after destroy is a new request"
    assert all(len(token) <= 36 for token in tokens)


async def test_unknown_cluster_is_rejected_naming_it(
    backend: EcsBackend, config: dict[str, Any]
) -> None:
    with pytest.raises(ComputeRejectedError, match="no-such-cluster") as caught:
        await backend.provision(TENANT, {**config, "cluster": "no-such-cluster"})
    assert SECRET not in str(caught.value)


async def test_unknown_subnet_is_rejected(backend: EcsBackend, ecs: Any) -> None:
    # moto checks awsvpc subnets against EC2 and answers InvalidParameterException.
    config: dict[str, Any] = {"cluster": CLUSTER, "image": "i", "subnets": ["subnet-0nope"]}
    with pytest.raises(
        ComputeRejectedError, match=f"cluster {CLUSTER!r}: InvalidParameterException"
    ):
        await backend.provision(TENANT, config)
    assert active_services(ecs) == []


async def test_a_foreign_service_with_the_same_name_is_not_taken_over(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    arn = ecs.register_task_definition(
        family="someone-else", containerDefinitions=[{"name": "x", "image": "x", "memory": 64}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=arn, desiredCount=0)
    with pytest.raises(ComputeRejectedError, match="not tagged"):
        await backend.provision(TENANT, config)
    assert not (await backend.status(TENANT)).exists
    await backend.destroy(TENANT)
    assert len(active_services(ecs)) == 1, "destroy leaves what is not the tenant's"


# -- update ----------------------------------------------------------------------------------


async def test_update_with_the_same_config_registers_nothing(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    first = await backend.provision(TENANT, config)
    same = await backend.update(TENANT, config)
    assert len(revisions(ecs)) == 1
    assert same.resource_ids == first.resource_ids


async def test_update_with_a_new_image_rolls_to_a_new_revision(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    first = await backend.provision(TENANT, config)
    changed = await backend.update(TENANT, {**config, "image": "registry.example/app:2"})
    assert len(revisions(ecs)) == 2
    new_arn = changed.resource_ids["task_definition_arn"]
    assert new_arn != first.resource_ids["task_definition_arn"]
    assert new_arn.endswith(f"{SERVICE}:2")
    [service] = ecs.describe_services(cluster=CLUSTER, services=[SERVICE])["services"]
    assert service["taskDefinition"] == new_arn
    assert changed.config["image"] == "registry.example/app:2"
    again = await backend.update(TENANT, {**config, "image": "registry.example/app:2"})
    assert again.resource_ids == changed.resource_ids
    assert len(revisions(ecs)) == 2, "the new hash was recorded: a re-run is a no-op"


async def test_update_of_the_count_alone_reuses_the_task_definition(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    first = await backend.provision(TENANT, config)
    scaled = await backend.update(TENANT, {**config, "desired_count": 3})
    assert len(revisions(ecs)) == 1
    assert scaled.resource_ids["task_definition_arn"] == first.resource_ids["task_definition_arn"]
    assert scaled.config["desired_count"] == 3


async def test_update_refuses_to_move_clusters(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    await backend.provision(TENANT, config)
    ecs.create_cluster(clusterName="other")
    with pytest.raises(ComputeRejectedError, match=r"desired_config\.cluster"):
        await backend.update(TENANT, {**config, "cluster": "other"})


# -- destroy ---------------------------------------------------------------------------------


async def test_destroy_removes_the_service_and_task_definitions_and_is_repeatable(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    await backend.provision(TENANT, config)
    await backend.update(TENANT, {**config, "image": "registry.example/app:2"})
    await backend.destroy(TENANT)
    assert active_services(ecs) == []
    assert revisions(ecs) == []
    assert not (await backend.status(TENANT)).exists
    await backend.destroy(TENANT)  # nothing there: still success


async def test_destroy_of_a_never_provisioned_tenant_succeeds(backend: EcsBackend) -> None:
    await backend.destroy(TENANT)


async def test_provision_after_destroy_creates_a_fresh_service(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    await backend.provision(TENANT, config)
    await backend.destroy(TENANT)
    state = await backend.provision(TENANT, config)
    assert state.exists
    assert len(active_services(ecs)) == 1


# -- status ----------------------------------------------------------------------------------


async def test_status_of_an_unknown_tenant(backend: EcsBackend) -> None:
    state = await backend.status(TENANT)
    assert not state.exists
    assert not state.healthy


async def test_status_reports_ids_config_and_counts(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    normalized = backend.validate_config(config)
    await backend.provision(TENANT, normalized)
    state = await backend.status(TENANT)
    assert state.exists
    # moto runs no tasks: runningCount stays 0 (MOTO_ECS_SERVICE_RUNNING unset), so not healthy.
    assert not state.healthy
    assert "0/1 tasks running" in state.detail
    [service] = active_services(ecs)
    assert state.resource_ids == {
        "service_arn": service["serviceArn"],
        "task_definition_arn": service["taskDefinition"],
        "cluster": service["clusterArn"],
    }
    assert state.config == normalized, "every key is read back from the service and task"
    assert state.endpoints == {}


async def test_status_is_healthy_when_running_meets_desired(
    backend: EcsBackend, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")  # moto's knob for runningCount
    await backend.provision(TENANT, config)
    assert (await backend.status(TENANT)).healthy


async def test_status_with_zero_desired_is_healthy_when_it_exists(
    backend: EcsBackend, config: dict[str, Any]
) -> None:
    state = await backend.provision(TENANT, {**config, "desired_count": 0})
    assert state.exists
    assert state.healthy


async def test_status_finds_the_service_with_a_cluster_arn_in_config(
    backend: EcsBackend, ecs: Any, config: dict[str, Any]
) -> None:
    arn = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]["clusterArn"]
    normalized = backend.validate_config({**config, "cluster": arn})
    await backend.provision(TENANT, normalized)
    assert (await backend.status(TENANT)).config == normalized


# -- transient errors ------------------------------------------------------------------------


class _Throttled:
    """A client whose every call is throttled, as ECS does under load."""

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, name
            )

        return call


async def test_throttling_is_an_ordinary_retryable_error() -> None:
    backend = EcsBackend(client_factory=_Throttled)
    config: dict[str, Any] = {"cluster": CLUSTER, "image": "i", "subnets": ["s"]}
    with pytest.raises(ClientError) as caught:
        await backend.provision(TENANT, config)
    assert not isinstance(caught.value, ComputeRejectedError)


async def test_reachable_lists_a_cluster_in_its_region(backend: EcsBackend) -> None:
    assert await backend.reachable() == f"ECS answers in {REGION}"


async def test_an_unreachable_endpoint_is_not_reachable(aws: None) -> None:
    from botocore.exceptions import EndpointConnectionError

    from local_stack import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    backend = EcsBackend(region=REGION, endpoint_url=closed)
    with pytest.raises(EndpointConnectionError):
        await backend.reachable()
