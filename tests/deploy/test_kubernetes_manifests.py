"""deploy/kubernetes/plain (no operator): every object validates against the offline Kubernetes
schema, and the objects agree with each other (selectors, ports, references, registration URIs,
network policy). Schema and consistency only: no cluster runs here."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from provider.config import load_settings
from tests.deploy.manifests import (
    CONTROLLER_PORT,
    DEPLOY_DIR,
    PLACEHOLDER,
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
    pod_endpoint,
    pod_template,
    reference_problems,
    registration_target_problems,
    scrape_problems,
    secret_manifest_problems,
    selector_problems,
    target_port_problems,
    templates_in,
    traffic_allowed,
    workloads,
)

PLAIN_DIR = DEPLOY_DIR / "kubernetes" / "plain"
NAMESPACE = "landlord"
RESTATE_IMAGE = "docker.restate.dev/restatedev/restate:1.7.12"
PRIVATE_KEY_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"
SERVICES_PORT = 9080
INGRESS_PORT, ADMIN_PORT, NODE_PORT = 8080, 9070, 5122

PLAIN = load_kustomization(PLAIN_DIR)
HAND_MADE = templates_in(PLAIN_DIR)

Resources = list[Resource]
Check = Callable[[Resources], list[str]]


def clone(resources: Resources) -> Resources:
    """A deep copy to break on purpose (the fixture data stays intact)."""
    return [Resource(copy.deepcopy(r.body), r.source) for r in resources]


# -- the checks (each returns problems, so the mutation tests can prove it can fail) -----------


def image_pin_problems(resources: Resources) -> list[str]:
    """Every image pinned; Restate exactly at the version the project is tested against."""
    problems = [
        p for w in workloads(resources) for c in containers(w) for p in image_problems(c["image"])
    ]
    restate = find(resources, "StatefulSet", "restate")
    if containers(restate)[0]["image"] != RESTATE_IMAGE:
        problems.append(f"restate image is {containers(restate)[0]['image']}, not {RESTATE_IMAGE}")
    return problems


def probe_port(resource: Resource, probe: Manifest | None) -> tuple[object, int | None]:
    """(path, container port number) an httpGet probe hits; (None, None) without one."""
    http = (probe or {}).get("httpGet") or {}
    return http.get("path"), container_ports(resource).get(http.get("port", ""))


def restate_problems(resources: Resources) -> list[str]:
    """The StatefulSet: one node, probes on the node and ingress health endpoints, data on the
    PVC, and the signing key file inside the mounted Secret."""
    restate = find(resources, "StatefulSet", "restate")
    spec = restate.body["spec"]
    container = containers(restate)[0]
    env = env_map(container)
    problems = []
    if spec.get("replicas") != 1:
        problems.append(f"replicas {spec.get('replicas')}, the recipe is single-node")
    expected = {
        "livenessProbe": ("/health", NODE_PORT),
        "startupProbe": ("/health", NODE_PORT),
        "readinessProbe": ("/restate/health", INGRESS_PORT),
    }
    for name, want in expected.items():
        got = probe_port(restate, container.get(name))
        if got != want:
            problems.append(f"{name} probes {got}, expected {want}")
    mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    base_dir = env.get("RESTATE_BASE_DIR", {}).get("value")
    if not any(mounts.get(claim, {}).get("mountPath") == base_dir for claim in claims):
        problems.append(f"RESTATE_BASE_DIR {base_dir} is not a mounted PersistentVolumeClaim")
    key_file = str(env.get(PRIVATE_KEY_ENV, {}).get("value"))
    volumes = {v["name"]: v for v in pod_template(restate)["spec"].get("volumes", [])}
    in_secret = [
        (mount, volumes[name]["secret"])
        for name, mount in mounts.items()
        if "secret" in volumes.get(name, {})
    ]
    if not any(
        key_file == f"{mount['mountPath']}/{item['path']}" and mount.get("readOnly")
        for mount, secret in in_secret
        for item in secret.get("items", [])
    ):
        problems.append(f"{PRIVATE_KEY_ENV}={key_file} is not a file of a read-only Secret mount")
    return problems


def services_problems(resources: Resources) -> list[str]:
    """The services pod: non-root, read-only root with an emptyDir state dir, resources, health
    probe, h2c Service port, and the identity key read from a ConfigMap/Secret in the tree."""
    services = find(resources, "Deployment", "landlord-services")
    pod = pod_template(services)["spec"]
    container = containers(services)[0]
    env = env_map(container)
    problems = []
    if not pod["securityContext"].get("runAsNonRoot"):
        problems.append("pod may run as root (runAsNonRoot unset)")
    if pod["securityContext"].get("runAsUser") != 10001:
        problems.append("runAsUser is not the image's user, uid 10001")
    security = container.get("securityContext", {})
    if not security.get("readOnlyRootFilesystem") or security.get("allowPrivilegeEscalation"):
        problems.append("root filesystem writable or privilege escalation allowed")
    state_dir = env.get("LANDLORD_SERVICES_STATE_DIR", {}).get("value")
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    if not any(
        m["mountPath"] == state_dir and m["name"] in empty_dirs for m in container["volumeMounts"]
    ):
        problems.append(f"LANDLORD_SERVICES_STATE_DIR {state_dir} is not an emptyDir mount")
    for bound in ("requests", "limits"):
        if set(container.get("resources", {}).get(bound, {})) != {"cpu", "memory"}:
            problems.append(f"resources.{bound} must set cpu and memory")
    if probe_port(services, container.get("readinessProbe")) != ("/health", SERVICES_PORT):
        problems.append("readiness probe is not GET /health on 9080")
    if probe_port(services, container.get("livenessProbe")) != ("/live", SERVICES_PORT):
        problems.append("liveness probe is not GET /live on 9080")
    identity = env.get("LANDLORD_SERVICES_IDENTITY_KEYS", {})
    source = identity.get("valueFrom", {})
    ref = source.get("configMapKeyRef") or source.get("secretKeyRef")
    kinds = {"configMapKeyRef": "ConfigMap", "secretKeyRef": "Secret"}
    if not ref:
        problems.append("LANDLORD_SERVICES_IDENTITY_KEYS is not read from a ConfigMap/Secret")
    else:
        kind = next(kinds[k] for k in kinds if k in source)
        holder = [r for r in resources if r.kind == kind and r.name == ref["name"]]
        if not holder or ref["key"] not in (holder[0].body.get("data") or {}):
            problems.append(f"identity key {kind} {ref['name']}/{ref['key']} is not in the tree")
    service = find(resources, "Service", "landlord-services")
    port = service.body["spec"]["ports"][0]
    if port.get("appProtocol") != "kubernetes.io/h2c":
        problems.append("services Service port does not declare appProtocol kubernetes.io/h2c")
    return problems


def registration_problems(resources: Resources) -> list[str]:
    """The controller Deployment runs `controller` from the control image (the services run
    `python -m services` from the services image) with its probes, and its URIs name the
    Services that reach the services (9080), Restate's ingress (8080) and admin (9070) container
    ports."""
    workload = find(resources, "Deployment", "landlord-controller")
    container = containers(workload)[0]
    env = {k: str(v.get("value")) for k, v in env_map(container).items()}
    services = containers(find(resources, "Deployment", "landlord-services"))[0]
    problems = image_roles_problems(services, container) + controller_problems(workload)
    for name, port in (
        ("LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI", SERVICES_PORT),
        ("LANDLORD_WORKFLOW_RESTATE_ENDPOINT", INGRESS_PORT),
        ("LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT", ADMIN_PORT),
    ):
        problems += [
            f"{name}: {p}"
            for p in registration_target_problems(
                resources, env.get(name, ""), NAMESPACE, container_port=port
            )
        ]
    if env.get("LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM") != "kubernetes":
        problems.append("execution mechanism is not kubernetes")
    return problems


def network_problems(resources: Resources) -> list[str]:
    """Default deny; the calls the recipe makes are allowed and nothing else reaches the services
    or Restate's unauthenticated APIs."""
    restate = pod_endpoint(find(resources, "StatefulSet", "restate"))
    services = pod_endpoint(find(resources, "Deployment", "landlord-services"))
    controller = pod_endpoint(find(resources, "Deployment", "landlord-controller"))
    # Another namespace with no policies of its own: only the target's ingress rules decide.
    stranger = Endpoint("elsewhere", {"app.kubernetes.io/name": "something-else"})
    client_elsewhere = Endpoint("landlord-api", {"landlord.dev/restate-client": "true"})
    must = {
        "restate -> services:9080": (restate, services, SERVICES_PORT),
        "controller -> restate:8080": (controller, restate, INGRESS_PORT),
        "controller -> restate:9070": (controller, restate, ADMIN_PORT),
    }
    must_not = {
        "stranger -> services:9080": (stranger, services, SERVICES_PORT),
        "controller -> services:9080": (controller, services, SERVICES_PORT),
        "services -> restate:9070": (services, restate, ADMIN_PORT),
        "stranger -> restate:9070": (stranger, restate, ADMIN_PORT),
        "stranger -> restate:5122": (stranger, restate, NODE_PORT),
        "restate -> services:22": (restate, services, 22),
        "unlabelled namespace client -> restate:9070": (client_elsewhere, restate, ADMIN_PORT),
        "services -> internet:443": (services, Endpoint(ip="203.0.113.7"), 443),
    }
    problems = default_deny_problems(resources, NAMESPACE)
    problems += [
        f"{what} is blocked" for what, c in must.items() if not traffic_allowed(resources, *c)
    ]
    problems += [
        f"{what} is allowed" for what, c in must_not.items() if traffic_allowed(resources, *c)
    ]
    return problems + scrape_problems(
        resources,
        {
            "services:9080": (services, SERVICES_PORT),
            "restate:5122": (restate, NODE_PORT),
            "controller:9091": (controller, CONTROLLER_PORT),
        },
        closed={"restate:9070": (restate, ADMIN_PORT)},
    )


CHECKS: dict[str, Check] = {
    "selectors": selector_problems,
    "target ports": target_port_problems,
    "references": lambda rs: reference_problems(rs, HAND_MADE),
    "images": image_pin_problems,
    "restate": restate_problems,
    "services": services_problems,
    "registration": registration_problems,
    "network": network_problems,
}


# -- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource", PLAIN + HAND_MADE, ids=str)
def test_validates_against_kubernetes_schema(resource: Resource) -> None:
    """Strict schema validation catches misspelt or misplaced fields before a cluster does."""
    assert k8s_problems(resource.body) == []


def test_recipe_has_the_expected_objects() -> None:
    """The recipe is complete: a missing object would make every other check vacuous."""
    kinds = {(r.kind, r.name) for r in PLAIN}
    assert {
        ("StatefulSet", "restate"),
        ("Service", "restate"),
        ("Service", "restate-cluster"),
        ("Deployment", "landlord-services"),
        ("Service", "landlord-services"),
        ("Deployment", "landlord-controller"),
        ("ServiceAccount", "restate"),
        ("ServiceAccount", "landlord-services"),
        ("ServiceAccount", "landlord-controller"),
        ("NetworkPolicy", "default-deny"),
    } <= kinds
    assert all(r.namespace == NAMESPACE for r in PLAIN if r.kind != "Namespace")


@pytest.mark.parametrize("check", CHECKS, ids=str)
def test_consistency(check: str) -> None:
    """The objects agree with each other (see each check's docstring)."""
    assert CHECKS[check](PLAIN) == []


def test_signing_key_secret_is_a_template_not_a_resource() -> None:
    """No key material in git: the Secret exists only as a placeholder template, outside the
    kustomization, with the key the StatefulSet mounts."""
    assert not [r for r in PLAIN if r.kind == "Secret"]
    secret = find(HAND_MADE, "Secret", "restate-signing-key")
    assert secret_manifest_problems(secret.body) == []
    assert "private.pem" in secret.body["stringData"]
    instructions = secret.source.read_text()
    assert "kubectl" in instructions
    assert "--from-file" in instructions


def test_registration_environment_is_accepted_by_landlord_settings() -> None:
    """The controller's environment passes landlord's own settings rules (URLs, mechanism,
    auth): the same validation `controller` applies before it calls anything."""
    container = containers(find(PLAIN, "Deployment", "landlord-controller"))[0]
    environ = {k: str(v["value"]) for k, v in env_map(container).items() if "value" in v}
    restate = load_settings(environ=environ).settings.workflow.restate
    assert restate.execution_mechanism == "kubernetes"
    assert restate.deployment_uri == "http://landlord-services:9080"


def _set_env(resources: Resources, kind: str, name: str, var: str, value: str) -> None:
    for entry in containers(find(resources, kind, name))[0]["env"]:
        if entry["name"] == var:
            entry.clear()
            entry.update(name=var, value=value)


def _services(resources: Resources) -> Manifest:
    return find(resources, "Deployment", "landlord-services").body


def _drop_policy(resources: Resources, name: str) -> None:
    resources.remove(find(resources, "NetworkPolicy", name))


BREAKAGES: dict[str, tuple[str, Callable[[Resources], object]]] = {
    "service selector typo": (
        "selectors",
        lambda rs: (
            find(rs, "Service", "landlord-services")
            .body["spec"]
            .update(selector={"app.kubernetes.io/name": "landlord-service"})
        ),
    ),
    "headless service renamed": (
        "selectors",
        lambda rs: find(rs, "StatefulSet", "restate").body["spec"].update(serviceName="restate-x"),
    ),
    "targetPort not a container port": (
        "target ports",
        lambda rs: find(rs, "Service", "restate").body["spec"]["ports"][1].update(targetPort=9071),
    ),
    "identity ConfigMap missing": (
        "references",
        lambda rs: rs.remove(find(rs, "ConfigMap", "landlord-restate-identity")),
    ),
    "services run the CLI": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-services"))[0].update(
            command=["landlord-restate"], args=["serve", "--bind", "0.0.0.0:9080"]
        ),
    ),
    "controller without a readiness probe": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].pop(
            "readinessProbe"
        ),
    ),
    "liveness on /health (a Restate outage would restart it)": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0]["livenessProbe"][
            "httpGet"
        ].update(path="/health"),
    ),
    "controller as a one-shot register": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].update(
            args=["register", "--wait", "120s"]
        ),
    ),
    "registration from the services image": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].update(
            image="landlord-restate-services:0.1.0"
        ),
    ),
    "control image of another version": (
        "registration",
        lambda rs: containers(find(rs, "Deployment", "landlord-controller"))[0].update(
            image="landlord-restate-control:0.0.9"
        ),
    ),
    "unpinned image": (
        "images",
        lambda rs: containers(find(rs, "Deployment", "landlord-services"))[0].update(
            image="landlord-restate-services:latest"
        ),
    ),
    "restate readiness on admin": (
        "restate",
        lambda rs: containers(find(rs, "StatefulSet", "restate"))[0]["readinessProbe"][
            "httpGet"
        ].update(path="/health", port="admin"),
    ),
    "key path outside the Secret mount": (
        "restate",
        lambda rs: _set_env(rs, "StatefulSet", "restate", PRIVATE_KEY_ENV, "/tmp/private.pem"),
    ),
    "services restarted when a backend is down": (
        "services",
        lambda rs: containers(find(rs, "Deployment", "landlord-services"))[0]["livenessProbe"][
            "httpGet"
        ].update(path="/health"),
    ),
    "services as root": (
        "services",
        lambda rs: pod_template(find(rs, "Deployment", "landlord-services"))["spec"][
            "securityContext"
        ].update(runAsNonRoot=False, runAsUser=0),
    ),
    "identity key as a literal": (
        "services",
        lambda rs: _set_env(
            rs, "Deployment", "landlord-services", "LANDLORD_SERVICES_IDENTITY_KEYS", "x"
        ),
    ),
    "deployment URI wrong port": (
        "registration",
        lambda rs: _set_env(
            rs,
            "Deployment",
            "landlord-controller",
            "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI",
            "http://landlord-services:8080",
        ),
    ),
    "deployment URI wrong host": (
        "registration",
        lambda rs: _set_env(
            rs,
            "Deployment",
            "landlord-controller",
            "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI",
            "http://services:9080",
        ),
    ),
    "no default deny": ("network", lambda rs: _drop_policy(rs, "default-deny")),
    "restate egress to services removed": (
        "network",
        lambda rs: _drop_policy(rs, "restate-to-services"),
    ),
    "no scrape policy for restate": (
        "network",
        lambda rs: _drop_policy(rs, "restate-metrics-from-prometheus"),
    ),
    "no scrape of the controller": (
        "network",
        lambda rs: _drop_policy(rs, "controller-metrics-from-prometheus"),
    ),
    "services open to all pods": (
        "network",
        lambda rs: (
            find(rs, "NetworkPolicy", "landlord-services-from-restate")
            .body["spec"]["ingress"][0]
            .pop("from")
        ),
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_each_check_fails_on_a_broken_copy(breakage: str) -> None:
    """Each consistency check reports a deliberately broken copy of the recipe (so a green run
    means something)."""
    check, breaker = BREAKAGES[breakage]
    broken = clone(PLAIN)
    breaker(broken)
    assert CHECKS[check](broken), f"{check} did not notice: {breakage}"


def test_schema_validation_fails_on_a_misspelt_field() -> None:
    """Strict validation rejects an unknown field, so a typo fails here, not in a cluster."""
    services = copy.deepcopy(_services(PLAIN))
    containers(Resource(services, PLAIN_DIR))[0]["readinessprobe"] = {}
    assert k8s_problems(services)


@pytest.mark.parametrize(
    "directory",
    [PLAIN_DIR, DEPLOY_DIR / "kubernetes" / "operator", DEPLOY_DIR / "cloud"],
    ids=lambda d: str(Path(d).relative_to(DEPLOY_DIR)),
)
def test_loader_renders_what_kustomize_renders(directory: Path) -> None:
    """The tests read the trees with their own small loader; kustomize (kubectl's, offline) must
    render exactly the same objects, or the tests would be checking something else."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed: nothing to compare the loader with")
    rendered = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    by_key = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
        for d in yaml.safe_load_all(rendered)
    }
    loaded = {(r.kind, r.namespace, r.name): r.body for r in load_kustomization(directory)}
    assert loaded == by_key


def test_placeholder_marks_every_value_an_operator_must_set() -> None:
    """The only values left to fill in are marked REPLACE_ME (the ConfigMap with the public key)."""
    marked = [
        r for r in PLAIN for value in (r.body.get("data") or {}).values() if PLACEHOLDER in value
    ]
    assert [r.name for r in marked] == ["landlord-restate-identity"]
