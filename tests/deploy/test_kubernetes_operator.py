"""deploy/kubernetes/operator: the RestateCluster and RestateDeployment use only fields that
restate-operator 2.8 defines, with the right types, and every required one; the rest (the
definition-storing controller included) validates against the Kubernetes schema. Schema and
consistency only: no operator runs here."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import pytest

from provider.config import ConfigError, load_settings
from tests.deploy.manifests import (
    CONTROLLER_PORT,
    DEPLOY_DIR,
    PLACEHOLDER,
    SCRAPER,
    SCRAPER_NAMESPACE_LABELS,
    SCRAPER_NEIGHBOUR,
    Endpoint,
    Manifest,
    Resource,
    container_ports,
    containers,
    controller_problems,
    default_deny_problems,
    env_map,
    find,
    image_problems,
    image_roles_problems,
    k8s_problems,
    load_kustomization,
    matches,
    pod_endpoint,
    pod_template,
    reference_problems,
    scrape_problems,
    secret_manifest_problems,
    templates_in,
    traffic_allowed,
)

OPERATOR_DIR = DEPLOY_DIR / "kubernetes" / "operator"
PLAIN_SERVICES = DEPLOY_DIR / "kubernetes" / "plain" / "services"
RESTATE_IMAGE = "docker.restate.dev/restatedev/restate:1.7.12"
# The operator registers http://<versioned service>.<namespace>.svc:9080 (port fixed in its code).
OPERATOR_REGISTERS_PORT = 9080
# The Service the operator puts in front of a RestateCluster: always named `restate`, in the
# cluster's namespace (named after the cluster), ingress 8080 and admin 9070
# (reconcilers/compute.rs, `restate_service`).
OPERATOR_RESTATE_SERVICE = "restate"
INGRESS_PORT, ADMIN_PORT = 8080, 9070

OPERATOR = load_kustomization(OPERATOR_DIR)
HAND_MADE = templates_in(OPERATOR_DIR)

# -- restate-operator 2.8 CRDs, as far as a manifest can use them ------------------------------
# Written from the CRDs at tag v2.8.1 (crd/restateclusters.yaml, crd/restatedeployments.yaml;
# v2.8.0 was never published and has the same CRDs). Every spec field of 2.8 is listed, so an
# unknown name is a typo; subtrees the CRD borrows from Kubernetes (EnvVar, PodTemplateSpec,
# NetworkPolicyPeer, ...) are validated with the Kubernetes schema instead of being copied here.

FieldType = Literal["object", "map", "string", "integer", "boolean", "array", "k8s", "any"]
K8sWrapper = Callable[[Any], Manifest]


@dataclass(frozen=True)
class Field:
    """One field of a CRD schema: its type, whether it is required, and what it contains."""

    type: FieldType
    required: bool = False
    fields: Mapping[str, Field] = field(default_factory=dict)
    items: Field | None = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    # For `k8s`: wraps the value into a whole Kubernetes object kubernetes-validate can check.
    k8s: K8sWrapper | None = None
    # For objects the operator accepts with exactly one of these keys (its `oneOf`).
    exactly_one_of: tuple[str, ...] = ()


def obj(*, required: bool = False, one_of: tuple[str, ...] = (), **fields: Field) -> Field:
    return Field("object", required, fields, exactly_one_of=one_of)


def string(*, required: bool = False, enum: tuple[str, ...] = ()) -> Field:
    return Field("string", required, enum=enum)


def integer(*, required: bool = False, minimum: int | None = None) -> Field:
    return Field("integer", required, minimum=minimum)


def boolean() -> Field:
    return Field("boolean")


def string_map() -> Field:
    return Field("map")


def array(items: Field) -> Field:
    return Field("array", items=items)


def k8s(wrapper: K8sWrapper, *, required: bool = False) -> Field:
    return Field("k8s", required, k8s=wrapper)


def _meta() -> Manifest:
    return {"name": "schema-probe"}


def in_container(key: str) -> K8sWrapper:
    """A core/v1 Container field (env, resources, volumeMounts, lifecycle)."""
    return lambda value: {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(),
        "spec": {"containers": [{"name": "probe", "image": "probe:1", key: value}]},
    }


def in_pod_spec(key: str) -> K8sWrapper:
    """A core/v1 PodSpec field (affinity, tolerations, volumes, ...)."""
    return lambda value: {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(),
        "spec": {"containers": [{"name": "probe", "image": "probe:1"}], key: value},
    }


def network_policy_peers(value: Any) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(),
        "spec": {"podSelector": {}, "ingress": [{"from": value}]},
    }


def network_policy_egress(value: Any) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(),
        "spec": {"podSelector": {}, "egress": value},
    }


def label_selector(value: Any) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(),
        "spec": {"podSelector": value},
    }


def pod_template_spec(value: Any) -> Manifest:
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": _meta(), "template": value}


def object_meta(value: Any) -> Manifest:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": value}


def hpa_spec(value: Any) -> Manifest:
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "probe"}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(),
        "spec": {**value, "scaleTargetRef": target},
    }


@dataclass(frozen=True)
class CustomResource:
    """A 2.8 custom resource kind: where it lives and the schema of its body."""

    api_version: str
    kind: str
    namespaced: bool
    schema: Field


RESTATE_CLUSTER = CustomResource(
    api_version="restate.dev/v1",
    kind="RestateCluster",
    namespaced=False,  # scope: Cluster; the operator makes a namespace named after it
    schema=obj(
        apiVersion=string(required=True),
        kind=string(required=True),
        metadata=k8s(object_meta, required=True),
        spec=obj(
            required=True,
            cluster=obj(autoProvision=boolean()),
            clusterName=string(),
            compute=obj(
                required=True,
                affinity=k8s(in_pod_spec("affinity")),
                annotations=string_map(),
                args=array(string()),
                command=array(string()),
                dnsConfig=k8s(in_pod_spec("dnsConfig")),
                dnsPolicy=string(),
                env=k8s(in_container("env")),
                extraVolumeMounts=k8s(in_container("volumeMounts")),
                extraVolumes=k8s(in_pod_spec("volumes")),
                image=string(required=True),
                imagePullPolicy=string(),
                imagePullSecrets=k8s(in_pod_spec("imagePullSecrets")),
                labels=string_map(),
                lifecycle=k8s(in_container("lifecycle")),
                nodeSelector=string_map(),
                priorityClassName=string(),
                replicas=integer(),
                resources=k8s(in_container("resources")),
                sidecars=k8s(in_pod_spec("initContainers")),
                terminationGracePeriodSeconds=integer(),
                tolerations=k8s(in_pod_spec("tolerations")),
                topologySpreadConstraints=k8s(in_pod_spec("topologySpreadConstraints")),
            ),
            config=string(),
            security=obj(
                allowOperatorAccessToAdmin=boolean(),
                awsPodIdentityAssociationRoleArn=string(),
                awsPodSecurityGroups=array(string()),
                disableNetworkPolicies=boolean(),
                networkEgressRules=k8s(network_policy_egress),
                networkPeers=obj(
                    admin=k8s(network_policy_peers),
                    ingress=k8s(network_policy_peers),
                    metrics=k8s(network_policy_peers),  # deprecated in 2.8 for `node`
                    node=k8s(network_policy_peers),
                ),
                requestSigningPrivateKey=obj(
                    # The CRD says string; the operator accepts only "v1" (signing_key.rs).
                    version=string(required=True, enum=("v1",)),
                    secret=obj(key=string(required=True), secretName=string(required=True)),
                    secretProvider=obj(
                        parameters=string_map(),
                        path=string(required=True),
                        provider=string(),
                    ),
                    # The operator rejects both sources at once (signing_key.rs).
                    one_of=("secret", "secretProvider"),
                ),
                serviceAccountAnnotations=string_map(),
                serviceAnnotations=string_map(),
                trustedCaCerts=array(
                    obj(key=string(required=True), secretName=string(required=True))
                ),
            ),
            storage=obj(
                required=True,
                storageClassName=string(),
                storageRequestBytes=integer(required=True, minimum=1),
                volumeAttributesClassName=string(),
            ),
        ),
        status=Field("any"),
    ),
)

RESTATE_DEPLOYMENT = CustomResource(
    api_version="restate.dev/v1beta1",
    kind="RestateDeployment",
    namespaced=True,
    schema=obj(
        apiVersion=string(required=True),
        kind=string(required=True),
        metadata=k8s(object_meta),
        spec=obj(
            required=True,
            autoscaling=k8s(hpa_spec),  # x-kubernetes-preserve-unknown-fields: an HPA spec
            deploymentMode=string(enum=("replicaset", "knative")),
            knative=obj(
                maxScale=integer(),
                minScale=integer(),
                tag=string(),
                target=integer(),
            ),
            minReadySeconds=integer(),
            replicas=integer(),
            restate=obj(
                required=True,
                drainDelaySeconds=integer(),
                register=obj(
                    required=True,
                    cloud=string(),
                    cluster=string(),
                    service=obj(
                        name=string(required=True),
                        namespace=string(required=True),
                        path=string(),
                        port=integer(minimum=1),
                    ),
                    url=string(),
                    one_of=("cloud", "cluster", "service", "url"),
                ),
                servicePath=string(),
                tunnelMode=string(enum=("external", "in-process")),
                useHttp11=boolean(),
            ),
            revisionHistoryLimit=integer(),
            selector=k8s(label_selector),
            template=k8s(pod_template_spec, required=True),
        ),
        status=Field("any"),
    ),
)

CUSTOM_RESOURCES = {(c.api_version, c.kind): c for c in (RESTATE_CLUSTER, RESTATE_DEPLOYMENT)}
OPERATOR_API_GROUP = "restate.dev"


def schema_problems(value: Any, spec: Field, path: str) -> list[str]:
    """Where `value` departs from `spec`: unknown fields, wrong types, missing required fields."""
    if spec.type == "any":
        return []
    if spec.type == "k8s":
        assert spec.k8s is not None
        return [f"{path}: {p}" for p in k8s_problems(spec.k8s(value))]
    if spec.type in ("object", "map"):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        if spec.type == "map":
            return [
                f"{path}.{k}: expected a string" for k, v in value.items() if not isinstance(v, str)
            ]
        problems = [
            f"{path}.{key}: not a field of restate-operator 2.8"
            for key in value
            if key not in spec.fields
        ]
        problems += [
            f"{path}.{key}: required by restate-operator 2.8"
            for key, child in spec.fields.items()
            if child.required and key not in value
        ]
        if spec.exactly_one_of:
            chosen = [key for key in spec.exactly_one_of if key in value]
            if len(chosen) != 1:
                problems.append(f"{path}: exactly one of {spec.exactly_one_of}, got {chosen}")
        for key, child in value.items():
            if key in spec.fields:
                problems += schema_problems(child, spec.fields[key], f"{path}.{key}")
        return problems
    if spec.type == "array":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        assert spec.items is not None
        return [
            p
            for i, item in enumerate(value)
            for p in schema_problems(item, spec.items, f"{path}[{i}]")
        ]
    if spec.type == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {type(value).__name__}"]
        if spec.enum and value not in spec.enum:
            return [f"{path}: {value!r} is not one of {spec.enum}"]
        return []
    if spec.type == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: expected an integer, got {type(value).__name__}"]
        if spec.minimum is not None and value < spec.minimum:
            return [f"{path}: below the minimum {spec.minimum}"]
        return []
    if not isinstance(value, bool):
        return [f"{path}: expected a boolean, got {type(value).__name__}"]
    return []


def custom_resource_problems(body: Manifest) -> list[str]:
    """A restate.dev object: a 2.8 apiVersion/kind, its scope, and its schema."""
    kind = CUSTOM_RESOURCES.get((body.get("apiVersion", ""), body.get("kind", "")))
    if kind is None:
        known = sorted(f"{a} {k}" for a, k in CUSTOM_RESOURCES)
        return [f"{body.get('apiVersion')} {body.get('kind')} is not one of 2.8's {known}"]
    problems = schema_problems(body, kind.schema, kind.kind)
    has_namespace = "namespace" in body.get("metadata", {})
    if has_namespace != kind.namespaced:
        rule = "needs metadata.namespace" if kind.namespaced else "is cluster-scoped: no namespace"
        problems.append(f"{kind.kind} {rule}")
    return problems


def resource_problems(resource: Resource) -> list[str]:
    """Restate resources against the 2.8 description, everything else against Kubernetes."""
    if resource.body["apiVersion"].split("/")[0] == OPERATOR_API_GROUP:
        return custom_resource_problems(resource.body)
    return k8s_problems(resource.body)


# -- what the operator needs beyond the schema (from its README and source) --------------------

Resources = list[Resource]


def operator_problems(resources: Resources) -> list[str]:
    """The objects agree with what the 2.8 operator does with them."""
    cluster = find(resources, "RestateCluster", "restate")
    deployment = find(resources, "RestateDeployment", "landlord-services")
    spec = cluster.body["spec"]
    problems = []
    if spec["compute"]["image"] != RESTATE_IMAGE:
        problems.append(f"RestateCluster image {spec['compute']['image']} is not {RESTATE_IMAGE}")
    problems += image_problems(containers(deployment)[0]["image"])
    # README: with cluster.autoProvision the node must not provision itself.
    config = tomllib.loads(spec.get("config", ""))
    if spec.get("cluster", {}).get("autoProvision") and config.get("auto-provision") is not False:
        problems.append("cluster.autoProvision needs `auto-provision = false` in spec.config")
    # The signing-key Secret is read from the cluster's own namespace (named after the cluster).
    key = spec.get("security", {}).get("requestSigningPrivateKey", {}).get("secret", {})
    secrets = [
        s
        for s in HAND_MADE
        if s.kind == "Secret" and s.name == key.get("secretName") and s.namespace == cluster.name
    ]
    if not secrets or key.get("key") not in secrets[0].body.get("stringData", {}):
        problems.append(f"no Secret template {key} in namespace {cluster.name}")
    register = deployment.body["spec"]["restate"]["register"]
    if register.get("cluster") not in {r.name for r in resources if r.kind == "RestateCluster"}:
        problems.append(f"register.cluster {register.get('cluster')} is not a RestateCluster here")
    if OPERATOR_REGISTERS_PORT not in container_ports(deployment).values():
        problems.append(f"the services must listen on {OPERATOR_REGISTERS_PORT}")
    selector = deployment.body["spec"].get("selector", {}).get("matchLabels", {})
    if not selector or not matches(selector, pod_template(deployment)["metadata"].get("labels")):
        problems.append("RestateDeployment selector does not match its pod labels")
    return problems


def register_environment(resources: Resources) -> dict[str, str]:
    """The controller's environment, as the container gets it (literal values only)."""
    container = containers(find(resources, "Deployment", "landlord-controller"))[0]
    return {k: str(v["value"]) for k, v in env_map(container).items() if "value" in v}


def operator_service_problems(name: str, url: str, cluster: Resource, port: int) -> list[str]:
    """`url` is http://restate.<cluster namespace>.svc[.cluster.local]:<port>, the operator's
    Service for this cluster (the controller runs in another namespace, so the namespace must be
    named)."""
    parts = urlsplit(url)
    service = f"{OPERATOR_RESTATE_SERVICE}.{cluster.name}.svc"
    if parts.scheme != "http" or parts.hostname not in (service, f"{service}.cluster.local"):
        return [f"{name}: {url} is not the operator's Service http://{service}"]
    if parts.port != port:
        return [f"{name}: {url} is not port {port}"]
    return []


def registration_problems(resources: Resources) -> list[str]:
    """The controller only stores the definition: `controller` against the operator's Restate
    Service, REGISTER_DEPLOYMENT "false" and no DEPLOYMENT_URI (never a second, unmanaged
    deployment), an environment landlord's settings loader accepts, the control image at the
    services image's version (which serves with `python -m services`), one long-running pod
    with its probes (it retries until the operator's first registration, with no deadline)."""
    workload = find(resources, "Deployment", "landlord-controller")
    cluster = find(resources, "RestateCluster", "restate")
    container = containers(workload)[0]
    env = register_environment(resources)
    services = containers(find(resources, "RestateDeployment", "landlord-services"))[0]
    problems = image_roles_problems(services, container) + controller_problems(workload)
    problems += operator_service_problems(
        "ENDPOINT", env.get("LANDLORD_WORKFLOW_RESTATE_ENDPOINT", ""), cluster, INGRESS_PORT
    )
    problems += operator_service_problems(
        "ADMIN_ENDPOINT",
        env.get("LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT", ""),
        cluster,
        ADMIN_PORT,
    )
    if env.get("LANDLORD_WORKFLOW_RESTATE_REGISTER_DEPLOYMENT") != "false":
        problems.append('REGISTER_DEPLOYMENT is not "false": register would add a deployment')
    if "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI" in env_map(container):
        problems.append("DEPLOYMENT_URI is set: the operator's registration decides the URI")
    try:
        restate = load_settings(environ=env).settings.workflow.restate
    except ConfigError as error:
        problems.append(f"landlord's settings loader rejects the environment: {error}")
    else:
        if restate.register_deployment is not False:
            problems.append("landlord's settings loader reads register_deployment as true")
    return problems


def _admits(peers: list[Manifest], namespace_labels: Mapping[str, str], pod: Endpoint) -> bool:
    """One of the RestateCluster's networkPeers admits this pod (namespace and pod labels)."""
    return any(
        matches(peer.get("namespaceSelector", {}).get("matchLabels", {}), namespace_labels)
        and matches(peer.get("podSelector", {}).get("matchLabels", {}), pod.labels)
        for peer in peers
    )


def network_problems(resources: Resources) -> list[str]:
    """`landlord` denies by default; Restate's pods (namespace `restate`, label set by the
    operator) reach the services; labelled clients are Restate's only admitted callers, and the
    controller is one of them (both its egress here and the cluster's networkPeers); a labelled
    Prometheus scrapes the services, the controller and Restate's node port, and nothing else."""
    cluster = find(resources, "RestateCluster", "restate")
    services = pod_endpoint(find(resources, "RestateDeployment", "landlord-services"))
    register = pod_endpoint(find(resources, "Deployment", "landlord-controller"))
    restate = Endpoint(cluster.name, {"app.kubernetes.io/name": "restate"})
    stranger = Endpoint("elsewhere", {"app.kubernetes.io/name": "restate"})
    problems = default_deny_problems(resources, "landlord")
    if not traffic_allowed(resources, restate, services, OPERATOR_REGISTERS_PORT):
        problems.append("Restate cannot reach the services")
    if traffic_allowed(resources, stranger, services, OPERATOR_REGISTERS_PORT):
        problems.append("a pod outside the cluster's namespace reaches the services")
    if traffic_allowed(resources, register, services, OPERATOR_REGISTERS_PORT):
        problems.append("the controller reaches the services")
    peers = cluster.body["spec"]["security"].get("networkPeers", {})
    namespace = [r for r in resources if r.kind == "Namespace" and r.name == register.namespace]
    namespace_labels = {
        "kubernetes.io/metadata.name": register.namespace,
        **(namespace[0].body["metadata"].get("labels", {}) if namespace else {}),
    }
    for port_name, port in (("ingress", INGRESS_PORT), ("admin", ADMIN_PORT)):
        for peer in peers.get(port_name) or [{}]:
            if not (peer.get("namespaceSelector") and peer.get("podSelector")):
                problems.append(
                    f"networkPeers.{port_name}: {peer} admits more than labelled clients"
                )
        if not traffic_allowed(resources, register, restate, port):
            problems.append(f"the controller may not leave for Restate's {port}")
        if not _admits(peers.get(port_name) or [], namespace_labels, register):
            problems.append(f"networkPeers.{port_name} does not admit the controller")
        if _admits(peers.get(port_name) or [], SCRAPER_NAMESPACE_LABELS, SCRAPER):
            problems.append(f"networkPeers.{port_name} admits the metrics scraper")
    if not _admits(peers.get("node") or [], SCRAPER_NAMESPACE_LABELS, SCRAPER):
        problems.append("networkPeers.node does not admit the metrics scraper (Restate's /metrics)")
    if _admits(peers.get("node") or [], SCRAPER_NAMESPACE_LABELS, SCRAPER_NEIGHBOUR):
        problems.append("networkPeers.node admits an unlabelled pod")
    return problems + scrape_problems(
        resources,
        {
            "services:9080": (services, OPERATOR_REGISTERS_PORT),
            "controller:9091": (register, CONTROLLER_PORT),
        },
    )


CHECKS: dict[str, Callable[[Resources], list[str]]] = {
    "operator": operator_problems,
    "network": network_problems,
    "registration": registration_problems,
    "references": lambda rs: reference_problems(rs, HAND_MADE),
}


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", OPERATOR + HAND_MADE, ids=str)
def test_resource_matches_its_schema(resource: Resource) -> None:
    """Restate resources against the 2.8 CRDs, the rest against Kubernetes (strict)."""
    assert resource_problems(resource) == []


def test_uses_both_operator_resources() -> None:
    """The recipe is the operator's: a RestateCluster and a RestateDeployment, no plain workload
    for Restate or the services (the one Deployment is the controller)."""
    kinds = sorted(r.kind for r in OPERATOR if r.body["apiVersion"].startswith("restate.dev/"))
    assert kinds == ["RestateCluster", "RestateDeployment"]
    plain = [(r.kind, r.name) for r in OPERATOR if r.kind in ("StatefulSet", "Deployment")]
    assert plain == [("Deployment", "landlord-controller")]


@pytest.mark.parametrize("check", CHECKS, ids=str)
def test_consistency(check: str) -> None:
    """What the operator does with the objects works (see each check's docstring)."""
    assert CHECKS[check](OPERATOR) == []


def test_services_pod_template_is_the_plain_one() -> None:
    """The RestateDeployment runs exactly the plain recipe's services pod: one pod spec to
    review, and the two cannot drift apart unnoticed."""
    plain = find(load_kustomization(PLAIN_SERVICES), "Deployment", "landlord-services")
    operator = find(OPERATOR, "RestateDeployment", "landlord-services")
    assert pod_template(operator) == pod_template(plain)
    identity = find(OPERATOR, "ConfigMap", "landlord-restate-identity")
    plain_identity = find(
        load_kustomization(PLAIN_SERVICES), "ConfigMap", "landlord-restate-identity"
    )
    assert identity.body["data"] == plain_identity.body["data"]


def test_controller_is_a_resource_with_nothing_to_fill_in() -> None:
    """The definition-storing controller is applied with the rest (`apply -k`), has no
    placeholder left, and the only hand-made objects are the signing-key and secrets-keyring
    Secret templates (no key in git)."""
    workload = find(OPERATOR, "Deployment", "landlord-controller")
    assert workload.source.name == "controller.yaml"
    assert PLACEHOLDER not in str(workload.body)
    assert sorted((r.kind, r.name) for r in HAND_MADE) == [
        ("Secret", "landlord-secrets-keyring"),
        ("Secret", "restate-signing-key"),
    ]
    assert [secret_manifest_problems(r.body) for r in HAND_MADE] == [[], []]


def test_registration_environment_is_accepted_by_landlord_settings() -> None:
    """The controller's environment passes landlord's own settings rules, the validation
    `controller` applies before it calls anything, and turns registering a deployment off."""
    environ = register_environment(OPERATOR)
    restate = load_settings(environ=environ).settings.workflow.restate
    assert restate.register_deployment is False
    assert restate.endpoint == "http://restate.restate.svc:8080"
    assert restate.admin_endpoint == "http://restate.restate.svc:9070"
    assert "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI" not in environ


def _cluster(resources: Resources) -> Manifest:
    return find(resources, "RestateCluster", "restate").body


def _deployment(resources: Resources) -> Manifest:
    return find(resources, "RestateDeployment", "landlord-services").body


def _rename(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


Mutation = Callable[[Manifest], object]


def on_cluster(mutate: Mutation) -> Callable[[Resources], Resource]:
    """Break the RestateCluster of a copied recipe; return it for checking."""

    def apply(resources: Resources) -> Resource:
        resource = find(resources, "RestateCluster", "restate")
        mutate(resource.body)
        return resource

    return apply


def _set_job_env(resources: Resources, var: str, value: str | None) -> None:
    """Set (append if missing) or, with None, remove a variable of the controller."""
    container = containers(find(resources, "Deployment", "landlord-controller"))[0]
    env = [e for e in container["env"] if e["name"] != var]
    container["env"] = env if value is None else [*env, {"name": var, "value": value}]


def on_deployment(mutate: Mutation) -> Callable[[Resources], Resource]:
    """Break the RestateDeployment of a copied recipe; return it for checking."""

    def apply(resources: Resources) -> Resource:
        resource = find(resources, "RestateDeployment", "landlord-services")
        mutate(resource.body)
        return resource

    return apply


def on_controller(mutate: Mutation) -> Callable[[Resources], Resource]:
    """Break the controller of a copied recipe; return it for checking."""

    def apply(resources: Resources) -> Resource:
        resource = find(resources, "Deployment", "landlord-controller")
        mutate(resource.body)
        return resource

    return apply


SCHEMA_BREAKAGES: dict[str, Callable[[Resources], Resource]] = {
    "misspelt requestSigningPrivateKey": on_cluster(
        lambda b: _rename(b["spec"]["security"], "requestSigningPrivateKey", "requestSigningKey")
    ),
    "misspelt storageRequestBytes": on_cluster(
        lambda b: _rename(b["spec"]["storage"], "storageRequestBytes", "storageRequestByte")
    ),
    "misspelt networkPeers": on_cluster(
        lambda b: _rename(b["spec"]["security"], "networkPeers", "networkPeer")
    ),
    "storage as a quantity string": on_cluster(
        lambda b: b["spec"]["storage"].update(storageRequestBytes="10Gi")
    ),
    "image missing": on_cluster(lambda b: b["spec"]["compute"].pop("image")),
    "signing key version v2": on_cluster(
        lambda b: b["spec"]["security"]["requestSigningPrivateKey"].update(version="v2")
    ),
    "misspelt field in a network peer": on_cluster(
        lambda b: b["spec"]["security"]["networkPeers"]["admin"][0].update(podSelectr={})
    ),
    "misspelt env field": on_cluster(lambda b: b["spec"]["compute"]["env"][0].update(valu="x")),
    "namespace on the cluster-scoped RestateCluster": on_cluster(
        lambda b: b["metadata"].update(namespace="restate")
    ),
    "RestateCluster under the v1beta1 apiVersion": on_cluster(
        lambda b: b.update(apiVersion="restate.dev/v1beta1")
    ),
    "two registration targets": on_deployment(
        lambda b: b["spec"]["restate"]["register"].update(url="http://restate:9070")
    ),
    "misspelt register": on_deployment(
        lambda b: _rename(b["spec"]["restate"], "register", "registration")
    ),
    "unknown deploymentMode": on_deployment(
        lambda b: b["spec"].update(deploymentMode="deployment")
    ),
    "misspelt field in the pod template": on_deployment(
        lambda b: b["spec"]["template"]["spec"]["containers"][0].update(imagePullPolcy="Always")
    ),
    "RestateDeployment without namespace": on_deployment(lambda b: b["metadata"].pop("namespace")),
    "misspelt replicas": on_controller(lambda b: _rename(b["spec"], "replicas", "replica")),
    "REGISTER_DEPLOYMENT as a YAML boolean": on_controller(
        lambda b: env_map(b["spec"]["template"]["spec"]["containers"][0])[
            "LANDLORD_WORKFLOW_RESTATE_REGISTER_DEPLOYMENT"
        ].update(value=False)
    ),
}


@pytest.mark.parametrize("breakage", SCHEMA_BREAKAGES, ids=str)
def test_schema_check_fails_on_a_broken_copy(breakage: str) -> None:
    """A misspelt, mistyped, missing or misplaced field is reported (the check can fail)."""
    broken = [Resource(copy.deepcopy(r.body), r.source) for r in OPERATOR]
    resource = SCHEMA_BREAKAGES[breakage](broken)
    assert resource_problems(resource), f"not noticed: {breakage}"


CONSISTENCY_BREAKAGES: dict[str, tuple[str, Callable[[Resources], object]]] = {
    "register.cluster names no RestateCluster": (
        "operator",
        lambda rs: _deployment(rs)["spec"]["restate"]["register"].update(cluster="restate-x"),
    ),
    "signing Secret in the wrong namespace": (
        "operator",
        lambda rs: _cluster(rs)["spec"]["security"]["requestSigningPrivateKey"]["secret"].update(
            secretName="signing-key"
        ),
    ),
    "node provisions itself too": ("operator", lambda rs: _cluster(rs)["spec"].update(config="")),
    "services on another port": (
        "operator",
        lambda rs: containers(find(rs, "RestateDeployment", "landlord-services"))[0]["ports"][
            0
        ].update(containerPort=8000),
    ),
    "services open to any namespace": (
        "network",
        lambda rs: (
            find(rs, "NetworkPolicy", "landlord-services-from-restate")
            .body["spec"]["ingress"][0]["from"][0]
            .pop("namespaceSelector")
        ),
    ),
    "no scrape of the services": (
        "network",
        lambda rs: rs.remove(find(rs, "NetworkPolicy", "services-metrics-from-prometheus")),
    ),
    "no scrape of the controller": (
        "network",
        lambda rs: rs.remove(find(rs, "NetworkPolicy", "controller-metrics-from-prometheus")),
    ),
    "no scrape of Restate's node port": (
        "network",
        lambda rs: _cluster(rs)["spec"]["security"]["networkPeers"].pop("node"),
    ),
    "node port open to every pod of a labelled namespace": (
        "network",
        lambda rs: _cluster(rs)["spec"]["security"]["networkPeers"]["node"][0].pop("podSelector"),
    ),
    "admin open to every pod of labelled namespaces": (
        "network",
        lambda rs: _cluster(rs)["spec"]["security"]["networkPeers"]["admin"][0].pop("podSelector"),
    ),
    "identity ConfigMap missing": (
        "references",
        lambda rs: rs.remove(find(rs, "ConfigMap", "landlord-restate-identity")),
    ),
    "register would register a deployment too": (
        "registration",
        lambda rs: _set_job_env(rs, "LANDLORD_WORKFLOW_RESTATE_REGISTER_DEPLOYMENT", "true"),
    ),
    "REGISTER_DEPLOYMENT left at its default": (
        "registration",
        lambda rs: _set_job_env(rs, "LANDLORD_WORKFLOW_RESTATE_REGISTER_DEPLOYMENT", None),
    ),
    "a DEPLOYMENT_URI of its own": (
        "registration",
        lambda rs: _set_job_env(
            rs, "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI", "http://landlord-services:9080"
        ),
    ),
    "environment the settings loader rejects": (
        "registration",
        lambda rs: _set_job_env(rs, "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM", "kubernets"),
    ),
    "ingress looked up in the controller's own namespace": (
        "registration",
        lambda rs: _set_job_env(rs, "LANDLORD_WORKFLOW_RESTATE_ENDPOINT", "http://restate:8080"),
    ),
    "admin endpoint on the ingress port": (
        "registration",
        lambda rs: _set_job_env(
            rs, "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT", "http://restate.restate.svc:8080"
        ),
    ),
    "a one-shot register instead": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].update(
            args=["register", "--wait", "120s"]
        ),
    ),
    "the control image of another version": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].update(
            image="landlord-restate-control:0.0.9"
        ),
    ),
    "registration from the services image": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].update(
            image="landlord-restate-services:0.1.0"
        ),
    ),
    "services run the CLI": (
        "registration",
        lambda rs: containers(find(rs, "RestateDeployment", "landlord-services"))[0].update(
            command=["landlord-restate"], args=["serve", "--bind", "0.0.0.0:9080"]
        ),
    ),
    "liveness on /health (an outage of Restate would restart it)": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0]["livenessProbe"][
            "httpGet"
        ].update(path="/health"),
    ),
    "no readiness probe": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].pop(
            "readinessProbe"
        ),
    ),
    "controller pod without the client label": (
        "network",
        lambda rs: pod_template(find(rs, "Deployment", "landlord-controller"))["metadata"][
            "labels"
        ].pop("landlord.dev/restate-client"),
    ),
    "landlord namespace not a Restate client": (
        "network",
        lambda rs: (
            find(rs, "Namespace", "landlord")
            .body["metadata"]["labels"]
            .pop("landlord.dev/restate-client")
        ),
    ),
}


@pytest.mark.parametrize("breakage", CONSISTENCY_BREAKAGES, ids=str)
def test_consistency_check_fails_on_a_broken_copy(breakage: str) -> None:
    """Each operator-semantics check reports a deliberately broken copy."""
    check, breaker = CONSISTENCY_BREAKAGES[breakage]
    broken = [Resource(copy.deepcopy(r.body), r.source) for r in OPERATOR]
    breaker(broken)
    assert CHECKS[check](broken), f"{check} did not notice: {breakage}"
