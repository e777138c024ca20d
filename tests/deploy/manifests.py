"""Shared helpers for the deploy/ tests: load a kustomize tree the way `kubectl apply -k` would,
validate against the bundled Kubernetes schemas, and the placeholder / secret-scanning rules."""

from __future__ import annotations

import base64
import copy
import functools
import importlib.util
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import yaml

__all__ = [
    "CONTROLLER_COMMAND",
    "CONTROLLER_PORT",
    "CONTROL_IMAGE_NAME",
    "DEPLOY_DIR",
    "KUBERNETES_VERSION",
    "PLACEHOLDER",
    "REPO_ROOT",
    "SERVE_COMMAND",
    "SERVICES_IMAGE_NAME",
    "Endpoint",
    "Manifest",
    "Resource",
    "container_ports",
    "containers",
    "controller_problems",
    "default_deny_problems",
    "env_map",
    "expand_env",
    "find",
    "image_problems",
    "image_roles_problems",
    "ingress_rules_for",
    "is_placeholder",
    "k8s_problems",
    "load_any_yaml",
    "load_kustomization",
    "load_yaml_documents",
    "looks_like_base64_blob",
    "matches",
    "pod_endpoint",
    "pod_template",
    "reference_problems",
    "registration_target_problems",
    "resolve_env",
    "secret_findings",
    "secret_manifest_problems",
    "selector_problems",
    "service_for_host",
    "service_port_problems",
    "target_port_problems",
    "templates_in",
    "traffic_allowed",
    "workloads",
    "yaml_files",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
LAMBDA_PACKAGE = DEPLOY_DIR / "lambda" / "package.py"
# A version kubernetes-validate ships offline schemas for; the recipes use nothing newer.
KUBERNETES_VERSION = "1.30"
# The one marker every placeholder carries, so "is this a real value?" has a single answer.
PLACEHOLDER = "REPLACE_ME"

Manifest = dict[str, Any]

# Kinds kustomize's namespace transformer leaves alone (plus the operator's cluster-scoped CRDs).
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "RestateCluster",
        "RestateCloudEnvironment",
    }
)
# The kustomization features this loader implements; anything else must fail, not be ignored.
_SUPPORTED_KUSTOMIZATION_KEYS = frozenset({"apiVersion", "kind", "resources", "namespace"})
_WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "Job", "RestateDeployment"})


@dataclass(frozen=True)
class Resource:
    """One Kubernetes object from a kustomize tree, with the file it came from."""

    body: Manifest
    source: Path

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        namespace = self.body["metadata"].get("namespace")
        return None if namespace is None else str(namespace)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} ({self.source.relative_to(REPO_ROOT)})"


def load_yaml_documents(path: Path) -> list[Manifest]:
    """Every non-empty document of a (multi-document) YAML file."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def load_kustomization(directory: Path) -> list[Resource]:
    """The objects `kubectl kustomize directory` renders, for the features these recipes use:
    nested `resources` (files and directories) and `namespace`."""
    config = load_yaml_documents(directory / "kustomization.yaml")[0]
    unsupported = set(config) - _SUPPORTED_KUSTOMIZATION_KEYS
    if unsupported:
        raise ValueError(
            f"{directory}: kustomization keys this loader cannot render: {unsupported}"
        )
    loaded: list[Resource] = []
    for entry in config.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            loaded.extend(load_kustomization(path))
        else:
            loaded.extend(Resource(doc, path) for doc in load_yaml_documents(path))
    namespace = config.get("namespace")
    if namespace is None:
        return loaded
    placed = []
    for resource in loaded:
        body = copy.deepcopy(resource.body)
        if body["kind"] not in CLUSTER_SCOPED_KINDS:
            body["metadata"]["namespace"] = namespace
        placed.append(Resource(body, resource.source))
    return placed


def templates_in(directory: Path) -> list[Resource]:
    """The `*.template.yaml` objects under a directory: created by hand, never by kustomize."""
    return [
        Resource(doc, path)
        for path in sorted(directory.rglob("*.template.yaml"))
        for doc in load_yaml_documents(path)
    ]


def find(resources: Iterable[Resource], kind: str, name: str) -> Resource:
    """The one object of that kind and name (an AssertionError names what is missing)."""
    found = [r for r in resources if r.kind == kind and r.name == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {[str(r) for r in found]}"
    return found[0]


def k8s_problems(body: Manifest) -> list[str]:
    """Strict validation against the bundled schema of `KUBERNETES_VERSION` (no network)."""
    try:
        kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return [f"{path or '<root>'}: {error.message}"]
    return []


# -- workloads ---------------------------------------------------------------------------------


def workloads(resources: Iterable[Resource]) -> list[Resource]:
    """Objects that carry a pod template."""
    return [r for r in resources if r.kind in _WORKLOAD_KINDS]


def pod_template(resource: Resource) -> Manifest:
    """The PodTemplateSpec of a workload (metadata and spec)."""
    template: Manifest = resource.body["spec"]["template"]
    return template


def containers(resource: Resource) -> list[Manifest]:
    """The pod's containers, the main ones first, then init containers."""
    spec = pod_template(resource)["spec"]
    return [*spec["containers"], *spec.get("initContainers", [])]


def container_ports(resource: Resource) -> dict[str | int, int]:
    """Every container port of a workload, by name and by number, to its number."""
    ports: dict[str | int, int] = {}
    for container in containers(resource):
        for port in container.get("ports", []):
            ports[port["containerPort"]] = port["containerPort"]
            if "name" in port:
                ports[port["name"]] = port["containerPort"]
    return ports


def matches(selector: Mapping[str, str], labels: Mapping[str, str] | None) -> bool:
    """A matchLabels selector selects these labels (an empty selector selects everything)."""
    labels = labels or {}
    return all(labels.get(key) == value for key, value in selector.items())


def env_map(container: Manifest) -> dict[str, Manifest]:
    return {entry["name"]: entry for entry in container.get("env", [])}


_ENV_REFERENCE = re.compile(r"\$\((\w+)\)")


def expand_env(container: Manifest, values: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Kubernetes' `$(NAME)` expansion: only variables defined earlier in the list expand.
    `values` gives each valueFrom variable's value; returns the expanded env and problems."""
    expanded: dict[str, str] = {}
    problems = []
    for entry in container.get("env", []):
        name = entry["name"]
        if "value" in entry:
            raw = str(entry["value"])
            for reference in _ENV_REFERENCE.findall(raw):
                if reference not in expanded:
                    problems.append(f"{name} uses $({reference}), not defined before it")
            expanded[name] = _ENV_REFERENCE.sub(lambda m: expanded.get(m.group(1), m.group(0)), raw)
        elif name in values:
            expanded[name] = values[name]
    return expanded, problems


def resolve_env(
    container: Manifest, resources: Iterable[Resource], namespace: str | None
) -> dict[str, str]:
    """The values of a container's configMapKeyRef variables, read from the tree's ConfigMaps."""
    config_maps = {
        r.name: r.body.get("data", {})
        for r in resources
        if r.kind == "ConfigMap" and r.namespace == namespace
    }
    values = {}
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("configMapKeyRef")
        if ref and ref["key"] in config_maps.get(ref["name"], {}):
            values[entry["name"]] = str(config_maps[ref["name"]][ref["key"]])
    return values


def image_problems(image: str) -> list[str]:
    """Images must be pinned: an explicit tag that is not `latest`, or a digest."""
    if "@sha256:" in image:
        return []
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return [f"{image}: no tag (would pull latest)"]
    if tag == "latest":
        return [f"{image}: tag latest is not pinned"]
    return []


SERVICES_IMAGE_NAME = "landlord-restate-services"
"""The Dockerfile's default target: serving only (`python -m services`), no control-plane CLI."""
CONTROL_IMAGE_NAME = "landlord-restate-control"
"""The Dockerfile's `control` target: the `landlord-restate` command (the controller, one-shot
steps)."""
SERVE_COMMAND = ["python", "-m", "services", "--bind", "0.0.0.0:9080"]
CONTROLLER_PORT = 9091
CONTROLLER_COMMAND = ["landlord-restate", "controller", "--bind", f"0.0.0.0:{CONTROLLER_PORT}"]


def _repository_and_tag(image: str) -> tuple[str, str | None]:
    """`registry/path/name:tag` as (its last path component, tag); None for a digest."""
    if "@" in image:
        return image.split("@", 1)[0].rsplit("/", 1)[-1], None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        name, tag = image, ""
    return name.rsplit("/", 1)[-1], tag


def image_roles_problems(services: Manifest, register: Manifest) -> list[str]:
    """The services container runs the services image's server (`python -m services`), never
    the CLI; the registration runs `controller --bind 0.0.0.0:9091` from the control image, at
    the services image's version (both tags, when neither is a digest)."""
    problems = []
    served, served_tag = _repository_and_tag(services["image"])
    if served != SERVICES_IMAGE_NAME:
        problems.append(f"services image {services['image']} is not {SERVICES_IMAGE_NAME}")
    serving = [*services.get("command", []), *services.get("args", [])]
    if serving != SERVE_COMMAND:
        problems.append(f"services run {serving}, not {SERVE_COMMAND}")
    control, control_tag = _repository_and_tag(register["image"])
    if control != CONTROL_IMAGE_NAME:
        problems.append(f"registration image {register['image']} is not {CONTROL_IMAGE_NAME}")
    if served_tag is not None and control_tag is not None and served_tag != control_tag:
        problems.append(
            f"registration image tag {control_tag} is not the services image's {served_tag}"
        )
    registering = [*register.get("command", []), *register.get("args", [])]
    if registering != CONTROLLER_COMMAND:
        problems.append(f"registration runs {registering}, not {CONTROLLER_COMMAND}")
    return problems


def controller_problems(workload: Resource) -> list[str]:
    """The controller is one long-running pod: a Deployment of 1 replica whose container
    declares its port (named http) and probes /live for liveness and /health for readiness."""
    problems = []
    if workload.kind != "Deployment":
        problems.append(f"the controller is a {workload.kind}, not a Deployment")
    if workload.body["spec"].get("replicas", 1) != 1:
        problems.append("the controller runs more than one replica")
    container = containers(workload)[0]
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    if ports.get("http") != CONTROLLER_PORT:
        problems.append(f"the controller's port http is {ports.get('http')}, not {CONTROLLER_PORT}")
    for probe, path in (("livenessProbe", "/live"), ("readinessProbe", "/health")):
        got = (container.get(probe) or {}).get("httpGet") or {}
        if got.get("path") != path or got.get("port") not in ("http", CONTROLLER_PORT):
            problems.append(f"{probe} is not GET {path} on the http port: {got}")
    return problems


# -- services and network policy ---------------------------------------------------------------


def service_for_host(resources: Iterable[Resource], host: str, namespace: str) -> Resource | None:
    """The Service a cluster DNS name (`name`, `name.ns`, `name.ns.svc[.domain]`) resolves to from
    a pod in `namespace`."""
    parts = host.split(".")
    service_namespace = parts[1] if len(parts) > 1 else namespace
    for resource in resources:
        if (
            resource.kind == "Service"
            and resource.name == parts[0]
            and resource.namespace == service_namespace
        ):
            return resource
    return None


def registration_target_problems(
    resources: list[Resource], url: str, namespace: str, *, container_port: int
) -> list[str]:
    """A URL (scheme://host:port) names a Service in the tree, one of its ports, and that port
    reaches `container_port` on the pods the Service selects."""
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        return [f"{url}: needs a host and an explicit port"]
    return service_port_problems(
        resources, parts.hostname, parts.port, namespace, container_port=container_port
    )


def service_port_problems(
    resources: list[Resource], host: str, port: int, namespace: str, *, container_port: int
) -> list[str]:
    """`host:port` is a Service port that forwards to `container_port` of a selected workload."""
    service = service_for_host(resources, host, namespace)
    if service is None:
        return [f"{host}: no Service of that name in the tree"]
    ports = [p for p in service.body["spec"]["ports"] if p["port"] == port]
    if not ports:
        return [f"{host}:{port}: {service} has no port {port}"]
    target = ports[0].get("targetPort", port)
    selector = service.body["spec"].get("selector", {})
    selected = [
        w
        for w in workloads(resources)
        if w.namespace == service.namespace
        and matches(selector, pod_template(w)["metadata"].get("labels"))
    ]
    if not selected:
        return [f"{service} selects no workload in the tree"]
    reached = {container_ports(w).get(target) for w in selected}
    if reached != {container_port}:
        return [f"{host}:{port} reaches container port(s) {reached}, expected {container_port}"]
    return []


def ingress_rules_for(
    policies: Iterable[Resource], namespace: str | None, labels: Mapping[str, str]
) -> list[Manifest]:
    """Every ingress rule of the NetworkPolicies that select pods with these labels."""
    rules = []
    for policy in policies:
        spec = policy.body["spec"]
        if policy.kind != "NetworkPolicy" or policy.namespace != namespace:
            continue
        if not matches(spec["podSelector"].get("matchLabels", {}), labels):
            continue
        if "Ingress" in spec.get("policyTypes", ["Ingress"]):
            rules.extend(spec.get("ingress", []))
    return rules


def default_deny_problems(resources: Iterable[Resource], namespace: str) -> list[str]:
    """A policy selecting every pod of the namespace, for Ingress and Egress, allowing nothing."""
    for policy in resources:
        if policy.kind != "NetworkPolicy" or policy.namespace != namespace:
            continue
        spec = policy.body["spec"]
        if (
            spec.get("podSelector") == {}
            and set(spec.get("policyTypes", [])) == {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            return []
    return [f"namespace {namespace}: no default-deny NetworkPolicy for Ingress and Egress"]


# -- placeholders and secrets ------------------------------------------------------------------


def is_placeholder(value: object) -> bool:
    return isinstance(value, str) and PLACEHOLDER in value


_SOPS_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:[^\]]*\]$")


def secret_manifest_problems(doc: Manifest) -> list[str]:
    """A Secret in git is either a template (only placeholder `stringData`, no `data`) or
    SOPS-encrypted (a `sops:` block and every value ENC[...])."""
    values = {
        f"{section}.{key}": value
        for section in ("data", "stringData")
        for key, value in (doc.get(section) or {}).items()
    }
    if not values:
        return ["holds no data at all (neither a usable template nor encrypted)"]
    if isinstance(doc.get("sops"), dict):
        return [
            f"{key}: not SOPS-encrypted (ENC[...])"
            for key, value in values.items()
            if not _SOPS_VALUE.match(str(value))
        ]
    problems = [
        f"{key}: base64 `data` in a plaintext Secret" for key in values if key.startswith("data.")
    ]
    problems += [
        f"{key}: not a placeholder ({PLACEHOLDER})"
        for key, value in values.items()
        if key.startswith("stringData.") and not is_placeholder(value)
    ]
    return problems


_BASE58 = "1-9A-HJ-NP-Za-km-z"
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "PEM private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "Restate request-identity public key": re.compile(rf"publickeyv1_[{_BASE58}]{{20,}}"),
    "Restate Cloud API key": re.compile(r"\bkey_[A-Za-z0-9]{16,}"),
    "age secret key": re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{20,}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "bearer token": re.compile(r"Bearer\s+(?!\$|REPLACE_ME)[A-Za-z0-9._~+/-]{20,}"),
    # An entry of a secrets keyring: kid=<base64url of 32 bytes, 43 characters unpadded>.
    "secrets keyring key": re.compile(r"[A-Za-z0-9_.-]=[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"),
}


def secret_findings(text: str) -> list[str]:
    """Names of the secret-looking things in a text (placeholders never match)."""
    return [name for name, pattern in SECRET_PATTERNS.items() if pattern.search(text)]


def looks_like_base64_blob(value: str) -> bool:
    """A long value that decodes as base64: what a real Secret `data` entry looks like."""
    if len(value) < 16 or is_placeholder(value):
        return False
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return True


@functools.cache
def lambda_package() -> ModuleType:
    """deploy/lambda/package.py as a module (`lambda` is a keyword: it is no importable package)."""
    spec = importlib.util.spec_from_file_location("landlord_lambda_package", LAMBDA_PACKAGE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_any_yaml(path: Path) -> list[object]:
    """Every non-empty document of any YAML file (Kubernetes or not, custom tags allowed)."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.load_all(stream, Loader=lambda_package().TemplateLoader) if doc]


def yaml_files(directory: Path) -> Iterator[Path]:
    """Every YAML file under a directory, dot-files (like .sops.yaml) included."""
    for pattern in ("*.yaml", "*.yml"):
        yield from sorted(directory.rglob(pattern))


# -- consistency across objects ----------------------------------------------------------------


def selector_problems(resources: list[Resource]) -> list[str]:
    """Controllers select their own pods; every Service selects some workload; a StatefulSet's
    serviceName is a headless Service."""
    problems = []
    for workload in workloads(resources):
        selector = workload.body["spec"].get("selector", {}).get("matchLabels")
        labels = pod_template(workload)["metadata"].get("labels")
        if workload.kind != "Job" and not (selector and matches(selector, labels)):
            problems.append(f"{workload}: selector {selector} does not match its pod labels")
    for service in (r for r in resources if r.kind == "Service"):
        selector = service.body["spec"].get("selector")
        if selector and not _selected(resources, service):
            problems.append(f"{service}: selector {selector} matches no workload")
    for stateful in (r for r in resources if r.kind == "StatefulSet"):
        name = stateful.body["spec"].get("serviceName")
        headless = [
            r
            for r in resources
            if r.kind == "Service"
            and r.name == name
            and r.namespace == stateful.namespace
            and r.body["spec"].get("clusterIP") == "None"
        ]
        if not headless:
            problems.append(f"{stateful}: serviceName {name} is not a headless Service here")
    return problems


def _selected(resources: list[Resource], service: Resource) -> list[Resource]:
    selector = service.body["spec"].get("selector") or {}
    return [
        w
        for w in workloads(resources)
        if w.namespace == service.namespace
        and matches(selector, pod_template(w)["metadata"].get("labels"))
    ]


def target_port_problems(resources: list[Resource]) -> list[str]:
    """Every Service port's targetPort is a container port of every pod it selects."""
    problems = []
    for service in (r for r in resources if r.kind == "Service"):
        for port in service.body["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            for workload in _selected(resources, service):
                if target not in container_ports(workload):
                    problems.append(f"{service}: targetPort {target} is not a port of {workload}")
    return problems


def reference_problems(resources: list[Resource], hand_made: list[Resource]) -> list[str]:
    """Every ConfigMap, Secret and ServiceAccount a pod names exists (same namespace) with the
    keys it reads: in the tree, or, for Secrets, as a hand-made template."""
    known = {(r.kind, r.namespace, r.name): r.body for r in resources}
    templates = {(r.kind, r.name): r.body for r in hand_made if r.kind == "Secret"}

    def keys(kind: str, namespace: str | None, name: str) -> set[str] | None:
        body = known.get((kind, namespace, name))
        if body is None and kind == "Secret":
            body = templates.get((kind, name))
        if body is None:
            return None
        return {*(body.get("data") or {}), *(body.get("stringData") or {})}

    problems = []
    for workload in workloads(resources):
        spec = pod_template(workload)["spec"]
        namespace = workload.namespace
        account = spec.get("serviceAccountName")
        if account and ("ServiceAccount", namespace, account) not in known:
            problems.append(f"{workload}: ServiceAccount {account} is not in the tree")
        wanted: list[tuple[str, str, str]] = []
        for container in containers(workload):
            for entry in container.get("env", []):
                source = entry.get("valueFrom", {})
                for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if field in source:
                        wanted.append((kind, source[field]["name"], source[field]["key"]))
        for volume in spec.get("volumes", []):
            for field, kind, name_key in (
                ("configMap", "ConfigMap", "name"),
                ("secret", "Secret", "secretName"),
            ):
                if field in volume:
                    for item in volume[field].get("items", []):
                        wanted.append((kind, volume[field][name_key], item["key"]))
        for kind, name, key in wanted:
            present = keys(kind, namespace, name)
            if present is None:
                problems.append(
                    f"{workload}: {kind} {name} exists neither in the tree nor as a template"
                )
            elif key not in present:
                problems.append(f"{workload}: {kind} {name} has no key {key}")
    return problems


# -- what the network policies let through -----------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or, with `ip`, an address outside the cluster."""

    namespace: str = ""
    labels: Mapping[str, str] | None = None
    ip: str | None = None


def pod_endpoint(workload: Resource) -> Endpoint:
    return Endpoint(str(workload.namespace), pod_template(workload)["metadata"].get("labels", {}))


def _namespace_labels(resources: list[Resource], namespace: str) -> dict[str, str]:
    labels = {"kubernetes.io/metadata.name": namespace}
    for resource in resources:
        if resource.kind == "Namespace" and resource.name == namespace:
            labels.update(resource.body["metadata"].get("labels", {}))
    return labels


def _peer_matches(
    resources: list[Resource], peer: Manifest, policy_namespace: str, other: Endpoint
) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(cidr) for cidr in block.get("except", [])
        )
    if other.ip is not None:
        return False
    namespace_selector = peer.get("namespaceSelector")
    if namespace_selector is None:
        namespace_ok = other.namespace == policy_namespace
    else:
        namespace_ok = matches(
            namespace_selector.get("matchLabels", {}),
            _namespace_labels(resources, other.namespace),
        )
    pod_selector = peer.get("podSelector")
    pod_ok = pod_selector is None or matches(pod_selector.get("matchLabels", {}), other.labels)
    return namespace_ok and pod_ok


def _direction_allows(
    resources: list[Resource], pod: Endpoint, direction: str, other: Endpoint, port: int
) -> bool:
    selecting = []
    for policy in resources:
        if policy.kind != "NetworkPolicy" or policy.namespace != pod.namespace:
            continue
        spec = policy.body["spec"]
        types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]
        if direction in types and matches(spec["podSelector"].get("matchLabels", {}), pod.labels):
            selecting.append(policy)
    if not selecting:
        return True  # no policy isolates this pod in this direction
    peers_key = "from" if direction == "Ingress" else "to"
    for policy in selecting:
        for rule in policy.body["spec"].get(direction.lower(), []) or []:
            peers = rule.get(peers_key)
            ports = rule.get("ports")
            peer_ok = not peers or any(
                _peer_matches(resources, peer, pod.namespace, other) for peer in peers
            )
            port_ok = not ports or any(
                p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports
            )
            if peer_ok and port_ok:
                return True
    return False


def traffic_allowed(
    resources: list[Resource], source: Endpoint, target: Endpoint, port: int
) -> bool:
    """Whether the NetworkPolicies in the tree let `source` open a TCP connection to
    `target:port` (egress of the source and ingress of the target both checked)."""
    egress = source.ip is not None or _direction_allows(resources, source, "Egress", target, port)
    ingress = target.ip is not None or _direction_allows(resources, target, "Ingress", source, port)
    return egress and ingress


SCRAPER_LABELS = {"landlord.dev/metrics-scraper": "true"}
"""What a Prometheus pod and its namespace carry to be let in to the recipes' /metrics ports."""
SCRAPER = Endpoint("monitoring", SCRAPER_LABELS)
SCRAPER_NAMESPACE_LABELS = {"kubernetes.io/metadata.name": "monitoring", **SCRAPER_LABELS}
"""The scraper's namespace, as a namespaceSelector sees it."""
SCRAPER_NEIGHBOUR = Endpoint("monitoring", {})
"""A pod without the label in the scraper's namespace: let in nowhere."""
_MONITORING = Resource(
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "monitoring", "labels": SCRAPER_LABELS},
    },
    DEPLOY_DIR,
)


def scrape_problems(
    resources: list[Resource],
    scraped: Mapping[str, tuple[Endpoint, int]],
    closed: Mapping[str, tuple[Endpoint, int]] | None = None,
) -> list[str]:
    """The labelled Prometheus (`SCRAPER`) reaches each of `scraped` (what: pod and /metrics
    port) and none of `closed`; `SCRAPER_NEIGHBOUR` reaches none of them."""
    tree = [*resources, _MONITORING]
    problems = [
        f"scraper -> {what} is blocked"
        for what, (target, port) in scraped.items()
        if not traffic_allowed(tree, SCRAPER, target, port)
    ]
    problems += [
        f"scraper -> {what} is allowed"
        for what, (target, port) in (closed or {}).items()
        if traffic_allowed(tree, SCRAPER, target, port)
    ]
    problems += [
        f"unlabelled pod -> {what} is allowed"
        for what, (target, port) in scraped.items()
        if traffic_allowed(tree, SCRAPER_NEIGHBOUR, target, port)
    ]
    return problems
