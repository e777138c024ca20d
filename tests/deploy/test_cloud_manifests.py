"""deploy/cloud (Restate Cloud through the tunnel client, ADR-002) and the secret hygiene of all of
deploy/: schema validation, the tunnel client's configuration, registration through the tunnel,
network policy, and that no real secret is committed. Schema and consistency only."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provider.config import load_settings
from tests.deploy.manifests import (
    CONTROLLER_PORT,
    DEPLOY_DIR,
    PLACEHOLDER,
    REPO_ROOT,
    Endpoint,
    Manifest,
    Resource,
    containers,
    controller_problems,
    default_deny_problems,
    env_map,
    expand_env,
    find,
    image_problems,
    image_roles_problems,
    is_placeholder,
    k8s_problems,
    load_any_yaml,
    load_kustomization,
    load_yaml_documents,
    looks_like_base64_blob,
    pod_endpoint,
    pod_template,
    reference_problems,
    resolve_env,
    scrape_problems,
    secret_findings,
    secret_manifest_problems,
    service_port_problems,
    templates_in,
    traffic_allowed,
    yaml_files,
)

CLOUD_DIR = DEPLOY_DIR / "cloud"
PLAIN_SERVICES = DEPLOY_DIR / "kubernetes" / "plain" / "services"
NAMESPACE = "restate"
TUNNEL_IMAGE = "ghcr.io/restatedev/restate-cloud-tunnel-client:0.6.0"
# The options restate-cloud-tunnel-client 0.6.0 refuses to start without (src/options.rs);
# RESTATE_BEARER_TOKEN may instead be RESTATE_BEARER_TOKEN_FILE, but this recipe uses the env.
TUNNEL_REQUIRED_ENV = (
    "RESTATE_TUNNEL_NAME",
    "RESTATE_ENVIRONMENT_ID",
    "RESTATE_SIGNING_PUBLIC_KEY",
    "RESTATE_BEARER_TOKEN",
    "RESTATE_CLOUD_REGION",
)
# What the operator's RestateCloudEnvironment registers (src/resources/restatecloudenvironments.rs
# at v2.8.1) and the tunnel client's README shows: port 9080 on the tunnel host, the environment
# id without its env_ prefix.
TUNNEL_URL = re.compile(
    r"^https://tunnel\.(?P<region>[a-z0-9.-]+)\.restate\.cloud:9080/(?P<env>[a-z0-9]+)/"
    r"(?P<tunnel>[a-z0-9-]+)/http/(?P<host>[a-z0-9.-]+)/(?P<port>\d+)$"
)
# Stand-ins for the placeholders when a test needs a concrete configuration.
SAMPLE_ENV_ID = "201abc"
SAMPLE_REGION = "eu"

CLOUD = load_kustomization(CLOUD_DIR)
HAND_MADE = templates_in(CLOUD_DIR)
# Files that may talk about secrets: every recipe, and the two guides that go with them.
GUIDES = [REPO_ROOT / "docs" / "kubernetes.md", REPO_ROOT / "docs" / "cloud.md"]
SCANNED_FILES = sorted(p for p in [*DEPLOY_DIR.rglob("*"), *GUIDES] if p.is_file())

Resources = list[Resource]


def clone(resources: Resources) -> Resources:
    return [Resource(copy.deepcopy(r.body), r.source) for r in resources]


def tunnel_container(resources: Resources) -> Manifest:
    return containers(find(resources, "Deployment", "restate-cloud-tunnel"))[0]


def job_container(resources: Resources) -> Manifest:
    return containers(find(resources, "Deployment", "landlord-controller"))[0]


def job_pod_spec(resources: Resources) -> Manifest:
    spec: Manifest = pod_template(find(resources, "Deployment", "landlord-controller"))["spec"]
    return spec


def job_volume(resources: Resources, name: str) -> Manifest:
    return next(v for v in job_pod_spec(resources)["volumes"] if v["name"] == name)


def job_mount(resources: Resources, name: str) -> Manifest:
    return next(m for m in job_container(resources)["volumeMounts"] if m["name"] == name)


def sample(value: str, *, region: bool = False) -> str:
    """A placeholder replaced by a plausible value (to resolve URLs)."""
    return value.replace(PLACEHOLDER, SAMPLE_REGION if region else SAMPLE_ENV_ID)


def resolved(resources: Resources, container: Manifest) -> dict[str, str]:
    """A container's ConfigMap-fed variables, placeholders filled with samples."""
    values = resolve_env(container, resources, NAMESPACE)
    return {k: sample(v, region=k.endswith("REGION")) for k, v in values.items()}


def registration_env(resources: Resources) -> tuple[dict[str, str], list[str]]:
    """The controller's environment as Kubernetes would expand it (samples filled in)."""
    container = job_container(resources)
    return expand_env(container, resolved(resources, container))


# -- checks ------------------------------------------------------------------------------------


def tunnel_problems(resources: Resources) -> list[str]:
    """Every variable the tunnel client requires is set, the token comes from a Secret, the
    remote proxy is off and its ports are not exposed, and the image is pinned."""
    container = tunnel_container(resources)
    env = env_map(container)
    problems = [f"{name} is not set" for name in TUNNEL_REQUIRED_ENV if name not in env]
    token = env.get("RESTATE_BEARER_TOKEN", {})
    if "secretKeyRef" not in token.get("valueFrom", {}):
        problems.append("RESTATE_BEARER_TOKEN is not read from a Secret (secretKeyRef)")
    if env.get("RESTATE_REMOTE_PROXY", {}).get("value") != "false":
        problems.append("RESTATE_REMOTE_PROXY must be the string false")
    exposed = {p["containerPort"] for p in container.get("ports", [])} & {8080, 9070}
    if exposed:
        problems.append(f"remote-proxy ports {exposed} exposed")
    if container["image"] != TUNNEL_IMAGE:
        problems.append(f"tunnel image {container['image']} is not {TUNNEL_IMAGE}")
    problems += image_problems(container["image"])
    environment = find(resources, "ConfigMap", "restate-cloud-environment").body["data"]
    if environment["environment-id"] != f"env_{environment['environment-id-unprefixed']}":
        problems.append("environment-id and environment-id-unprefixed disagree")
    return problems


def api_key_file_problems(resources: Resources) -> list[str]:
    """The controller reads the API key from a file (`..._API_KEY_FILE`), never from an environment
    value: the file is key `api-key` of the `restate-identity` Secret, mounted read-only, and
    readable by the pod's non-root user."""
    container, spec = job_container(resources), job_pod_spec(resources)
    env = env_map(container)
    problems = []
    if "LANDLORD_WORKFLOW_RESTATE_API_KEY" in env:
        problems.append("the API key passes through an environment variable")
    path = PurePosixPath(str(env.get("LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE", {}).get("value")))
    mounts = [m for m in container.get("volumeMounts", []) if path.is_relative_to(m["mountPath"])]
    if not mounts:
        return [*problems, f"the API key file {path} is on no volume mount"]
    mount = mounts[0]
    if mount.get("readOnly") is not True:
        problems.append(f"{mount['mountPath']} is not mounted read-only")
    volume: Manifest = next((v for v in spec.get("volumes", []) if v["name"] == mount["name"]), {})
    secret = volume.get("secret", {})
    if secret.get("secretName") != "restate-identity":
        problems.append(f"volume {mount['name']} is not the restate-identity Secret")
    inside = str(path.relative_to(mount["mountPath"]))
    if {"key": "api-key", "path": inside} not in secret.get("items", []):
        problems.append(f"the Secret's key api-key is not mounted as {inside}")
    mode, pod = secret.get("defaultMode", 0o644), spec.get("securityContext", {})
    if pod.get("runAsUser", 0) != 0 and not mode & 0o004 and "fsGroup" not in pod:
        problems.append(f"mode {mode:o} without fsGroup: the non-root user cannot read the key")
    return problems


def registration_problems(resources: Resources) -> list[str]:
    """Registration goes through the tunnel to the services Service, as a Cloud registration
    (mechanism cloud, API key from a read-only mounted Secret file), with every $(VAR) defined
    before use, from the control image (the services run the services image), by the one
    long-running controller pod with its probes."""
    env, problems = registration_env(resources)
    services = containers(find(resources, "Deployment", "landlord-services"))[0]
    problems += image_roles_problems(services, job_container(resources))
    problems += controller_problems(find(resources, "Deployment", "landlord-controller"))
    if env.get("LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM") != "cloud":
        problems.append("execution mechanism is not cloud")
    if env.get("LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE") != "api_key":
        problems.append("auth type is not api_key")
    problems += api_key_file_problems(resources)
    uri = env.get("LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI", "")
    match = TUNNEL_URL.match(uri)
    if match is None:
        return [*problems, f"DEPLOYMENT_URI {uri!r} is not a tunnel URL"]
    tunnel_env = resolved(resources, tunnel_container(resources))
    if match["tunnel"] != tunnel_env.get("RESTATE_TUNNEL_NAME"):
        problems.append("the URI names another tunnel than the tunnel client's")
    if f"env_{match['env']}" != tunnel_env.get("RESTATE_ENVIRONMENT_ID"):
        problems.append("the URI's environment is not the tunnel client's (without env_)")
    if match["region"] != tunnel_env.get("RESTATE_CLOUD_REGION"):
        problems.append("the URI's region is not the tunnel client's")
    host = match["host"]
    if not host.endswith(".svc.cluster.local"):
        problems.append(f"{host}: use the Service's full cluster DNS name")
    problems += service_port_problems(
        resources, host, int(match["port"]), NAMESPACE, container_port=9080
    )
    return problems


def network_problems(resources: Resources) -> list[str]:
    """Default deny; the tunnel reaches the Cloud (443, public addresses only) and the services;
    the services accept only the tunnel (and a labelled Prometheus on /metrics); the controller
    reaches the Cloud endpoints only."""
    tunnel = pod_endpoint(find(resources, "Deployment", "restate-cloud-tunnel"))
    services = pod_endpoint(find(resources, "Deployment", "landlord-services"))
    controller = pod_endpoint(find(resources, "Deployment", "landlord-controller"))
    stranger = Endpoint("elsewhere", {"app.kubernetes.io/name": "something"})
    cloud = Endpoint(ip="203.0.113.10")
    must = {
        "tunnel -> cloud:443": (tunnel, cloud, 443),
        "tunnel -> services:9080": (tunnel, services, 9080),
        "controller -> cloud admin:9070": (controller, cloud, 9070),
        "controller -> cloud ingress:8080": (controller, cloud, 8080),
    }
    must_not = {
        "tunnel -> cloud:80": (tunnel, cloud, 80),
        "tunnel -> private address:443": (tunnel, Endpoint(ip="10.0.0.1"), 443),
        "tunnel -> metadata API:443": (tunnel, Endpoint(ip="169.254.169.254"), 443),
        "controller -> services:9080": (controller, services, 9080),
        "stranger -> services:9080": (stranger, services, 9080),
        "stranger -> tunnel:9090": (stranger, tunnel, 9090),
        "stranger -> tunnel:8080": (stranger, tunnel, 8080),
        "services -> cloud:443": (services, cloud, 443),
    }
    problems = default_deny_problems(resources, NAMESPACE)
    problems += [f"{w} is blocked" for w, c in must.items() if not traffic_allowed(resources, *c)]
    problems += [f"{w} is allowed" for w, c in must_not.items() if traffic_allowed(resources, *c)]
    return problems + scrape_problems(
        resources,
        {"services:9080": (services, 9080), "controller:9091": (controller, CONTROLLER_PORT)},
        closed={"tunnel:9090": (tunnel, 9090), "tunnel:8080": (tunnel, 8080)},
    )


CHECKS: dict[str, Callable[[Resources], list[str]]] = {
    "tunnel": tunnel_problems,
    "registration": registration_problems,
    "network": network_problems,
    "references": lambda rs: reference_problems(rs, HAND_MADE),
}


# -- tests: the cloud recipe -------------------------------------------------------------------


@pytest.mark.parametrize("resource", CLOUD + HAND_MADE, ids=str)
def test_validates_against_kubernetes_schema(resource: Resource) -> None:
    """Strict schema validation of every object, templates included."""
    assert k8s_problems(resource.body) == []


@pytest.mark.parametrize("check", CHECKS, ids=str)
def test_consistency(check: str) -> None:
    """The tunnel pattern holds together (see each check's docstring)."""
    assert CHECKS[check](CLOUD) == []


def test_services_are_reused_from_the_plain_recipe() -> None:
    """One services pod spec: the cloud tree includes the plain base instead of a copy."""
    for kind, name in (("Deployment", "landlord-services"), ("Service", "landlord-services")):
        assert find(CLOUD, kind, name).source.is_relative_to(PLAIN_SERVICES)
    copies = [
        path
        for path in yaml_files(CLOUD_DIR)
        for doc in load_yaml_documents(path)
        if isinstance(doc, dict) and doc.get("metadata", {}).get("name") == "landlord-services"
    ]
    assert copies == []


def test_registration_environment_is_accepted_by_landlord_settings(tmp_path: Path) -> None:
    """With the placeholders filled and the key file standing in for the mounted Secret, the
    controller's environment passes landlord's own settings rules (https URLs, cloud needs api_key,
    the key is read from the file)."""
    env, _ = registration_env(CLOUD)
    assert "LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE" in env
    key_file = tmp_path / "api-key"
    key_file.write_text("sample-api-key\n")
    env["LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE"] = str(key_file)
    restate = load_settings(environ=env).settings.workflow.restate
    assert restate.effective_api_key.get_secret_value() == "sample-api-key"
    assert restate.execution_mechanism == "cloud"
    assert restate.endpoint == "https://201abc.env.eu.restate.cloud:8080"
    assert restate.admin_endpoint == "https://201abc.env.eu.restate.cloud:9070"
    assert restate.deployment_uri == (
        "https://tunnel.eu.restate.cloud:9080/201abc/landlord/http/"
        "landlord-services.restate.svc.cluster.local/9080"
    )


def _set_job_env(resources: Resources, name: str, value: str) -> None:
    env_map(job_container(resources))[name].update(value=value)


def _tunnel_uri(resources: Resources, uri: str) -> None:
    _set_job_env(resources, "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI", uri)


def _key_in_env(resources: Resources) -> None:
    """The old way: the key as an environment variable from a secretKeyRef."""
    entry = env_map(job_container(resources))["LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE"]
    entry.clear()
    entry.update(
        name="LANDLORD_WORKFLOW_RESTATE_API_KEY",
        valueFrom={"secretKeyRef": {"name": "restate-identity", "key": "api-key"}},
    )


BREAKAGES: dict[str, tuple[str, Callable[[Resources], object]]] = {
    "remote proxy on": (
        "tunnel",
        lambda rs: env_map(tunnel_container(rs))["RESTATE_REMOTE_PROXY"].update(value="true"),
    ),
    "region variable missing": (
        "tunnel",
        lambda rs: tunnel_container(rs)["env"].remove(
            env_map(tunnel_container(rs))["RESTATE_CLOUD_REGION"]
        ),
    ),
    "bearer token inline": (
        "tunnel",
        lambda rs: env_map(tunnel_container(rs))["RESTATE_BEARER_TOKEN"].update(
            {"value": "x", "valueFrom": {}}
        ),
    ),
    "tunnel image latest": (
        "tunnel",
        lambda rs: tunnel_container(rs).update(
            image="ghcr.io/restatedev/restate-cloud-tunnel-client:latest"
        ),
    ),
    "environment ids disagree": (
        "tunnel",
        lambda rs: (
            find(rs, "ConfigMap", "restate-cloud-environment")
            .body["data"]
            .update({"environment-id": "env_other"})
        ),
    ),
    "deployment URI without the tunnel port": (
        "registration",
        lambda rs: _tunnel_uri(
            rs,
            "https://tunnel.$(CLOUD_REGION).restate.cloud/$(CLOUD_ENV)/$(CLOUD_TUNNEL)/http/"
            "landlord-services.restate.svc.cluster.local/9080",
        ),
    ),
    "deployment URI to the wrong Service": (
        "registration",
        lambda rs: _tunnel_uri(
            rs,
            "https://tunnel.$(CLOUD_REGION).restate.cloud:9080/$(CLOUD_ENV)/$(CLOUD_TUNNEL)/http/"
            "landlord.restate.svc.cluster.local/9080",
        ),
    ),
    "deployment URI to another tunnel": (
        "registration",
        lambda rs: _tunnel_uri(
            rs,
            "https://tunnel.$(CLOUD_REGION).restate.cloud:9080/$(CLOUD_ENV)/other/http/"
            "landlord-services.restate.svc.cluster.local/9080",
        ),
    ),
    "variable used before it is defined": (
        "registration",
        lambda rs: job_container(rs)["env"].reverse(),
    ),
    "registration from the services image": (
        "registration",
        lambda rs: job_container(rs).update(image="landlord-restate-services:0.1.0"),
    ),
    "registered as self-hosted": (
        "registration",
        lambda rs: _set_job_env(rs, "LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM", "kubernetes"),
    ),
    "API key through the environment": ("registration", _key_in_env),
    "API key file outside the mount": (
        "registration",
        lambda rs: _set_job_env(rs, "LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE", "/etc/api-key"),
    ),
    "API key file not the mounted key": (
        "registration",
        lambda rs: _set_job_env(
            rs, "LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE", "/etc/landlord/restate-identity/key"
        ),
    ),
    "API key mount writable": (
        "registration",
        lambda rs: job_mount(rs, "restate-identity").update(readOnly=False),
    ),
    "API key volume not the Secret": (
        "registration",
        lambda rs: job_volume(rs, "restate-identity").update(secret={"secretName": "other"}),
    ),
    "API key unreadable by the user": (
        "registration",
        lambda rs: job_pod_spec(rs)["securityContext"].pop("fsGroup"),
    ),
    "no default deny": ("network", lambda rs: rs.remove(find(rs, "NetworkPolicy", "default-deny"))),
    "tunnel egress to any port": (
        "network",
        lambda rs: (
            find(rs, "NetworkPolicy", "tunnel-egress").body["spec"]["egress"][0].pop("ports")
        ),
    ),
    "tunnel egress into the cluster": (
        "network",
        lambda rs: (
            find(rs, "NetworkPolicy", "tunnel-egress")
            .body["spec"]["egress"][0]["to"][0]["ipBlock"]
            .pop("except")
        ),
    ),
    "no scrape of the services": (
        "network",
        lambda rs: rs.remove(find(rs, "NetworkPolicy", "services-metrics-from-prometheus")),
    ),
    "controller scrape open to every pod of a labelled namespace": (
        "network",
        lambda rs: (
            find(rs, "NetworkPolicy", "controller-metrics-from-prometheus")
            .body["spec"]["ingress"][0]["from"][0]
            .pop("podSelector")
        ),
    ),
    "services open to any pod": (
        "network",
        lambda rs: (
            find(rs, "NetworkPolicy", "landlord-services-from-tunnel")
            .body["spec"]["ingress"][0]
            .pop("from")
        ),
    ),
    "tunnel token Secret renamed": (
        "references",
        lambda rs: env_map(tunnel_container(rs))["RESTATE_BEARER_TOKEN"]["valueFrom"][
            "secretKeyRef"
        ].update(name="tunnel-token"),
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_each_check_fails_on_a_broken_copy(breakage: str) -> None:
    """Each check reports a deliberately broken copy of the recipe."""
    check, breaker = BREAKAGES[breakage]
    broken = clone(CLOUD)
    breaker(broken)
    assert CHECKS[check](broken), f"{check} did not notice: {breakage}"


# -- tests: secrets anywhere under deploy/ -----------------------------------------------------


def all_secret_documents() -> list[tuple[Path, Manifest]]:
    """Every Kubernetes Secret in any YAML file under deploy/ (other recipes' YAML included)."""
    return [
        (path, doc)
        for path in yaml_files(DEPLOY_DIR)
        for doc in load_any_yaml(path)
        if isinstance(doc, dict) and doc.get("kind") == "Secret"
    ]


def test_every_secret_is_a_placeholder_template_or_sops_encrypted() -> None:
    """No Secret in deploy/ holds a usable value in plain text."""
    secrets = all_secret_documents()
    assert len(secrets) >= 3  # the signing-key, tunnel-token and restate-identity templates
    problems = {
        f"{path.relative_to(REPO_ROOT)}:{doc['metadata']['name']}": secret_manifest_problems(doc)
        for path, doc in secrets
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_nothing_under_deploy_looks_like_a_real_secret() -> None:
    """No private key, API key, real public key id or bearer token in any recipe or guide, and no
    base64 blob in any plaintext Secret's data."""
    findings = {
        str(path.relative_to(REPO_ROOT)): secret_findings(path.read_text(errors="replace"))
        for path in SCANNED_FILES
    }
    assert {k: v for k, v in findings.items() if v} == {}
    blobs = [
        f"{path.relative_to(REPO_ROOT)}:{key}"
        for path, doc in all_secret_documents()
        if "sops" not in doc
        for key, value in (doc.get("data") or {}).items()
        if looks_like_base64_blob(str(value))
    ]
    assert blobs == []


def _base58(data: bytes) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    number, digits = int.from_bytes(data, "big"), ""
    while number:
        number, digit = divmod(number, 58)
        digits = alphabet[digit] + digits
    return digits


def real_looking_material() -> dict[str, str]:
    """Freshly generated secrets in each shape the scan must catch."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "PEM private key": pem,
        "Restate request-identity public key": f"publickeyv1_{_base58(raw)}",
        "Restate Cloud API key": "api-key: key_" + "a1B2c3D4e5F6g7H8i9J0k1L2",
        "bearer token": "Authorization: Bearer " + "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0",
    }


@pytest.mark.parametrize("shape", list(real_looking_material()), ids=str)
def test_secret_scan_catches_real_looking_material(shape: str) -> None:
    """The scan is not vacuous: each shape of real secret is caught, in a YAML value too."""
    material = real_looking_material()[shape]
    assert shape in secret_findings(material)
    assert shape in secret_findings(yaml.safe_dump({"stringData": {"x": material}}))


def test_placeholders_pass_the_secret_scan() -> None:
    """The placeholders the recipes use are not mistaken for secrets."""
    for text in ("publickeyv1_REPLACE_ME", "token: REPLACE_ME", "Bearer $RESTATE_API_KEY"):
        assert secret_findings(text) == []


def test_secret_rules_reject_plaintext_and_accept_sops() -> None:
    """A plaintext value, a base64 data entry, or a half-encrypted SOPS file is rejected; a
    template and a fully encrypted SOPS file pass."""
    encrypted = "ENC[AES256_GCM,data:q83v,iv:AAAA,tag:BBBB,type:str]"
    sops = {"version": "3.9.0"}
    assert secret_manifest_problems({"stringData": {"token": PLACEHOLDER}}) == []
    assert secret_manifest_problems({"data": {"token": encrypted}, "sops": sops}) == []
    assert secret_manifest_problems({"stringData": {"token": "s3cr3t-value"}})
    assert secret_manifest_problems({"data": {"token": "c2VjcmV0LXRva2VuLXZhbHVl"}})
    assert secret_manifest_problems({"data": {"a": encrypted, "b": "c2VjcmV0"}, "sops": sops})
    assert looks_like_base64_blob("c2VjcmV0LXRva2VuLXZhbHVl")


def test_sops_creation_rules_encrypt_only_secret_payloads() -> None:
    """`.sops.yaml` has a rule for secrets/*.sops.yaml that encrypts data/stringData, with
    placeholder recipients (no real key id committed)."""
    rules = load_yaml_documents(CLOUD_DIR / ".sops.yaml")[0]["creation_rules"]
    assert rules
    for rule in rules:
        assert rule["encrypted_regex"] == "^(data|stringData)$"
        assert re.search(rule["path_regex"], "secrets/tunnel-token.sops.yaml")
        assert not re.search(rule["path_regex"], "secrets/tunnel-token.template.yaml")
        recipients = [
            rule[k] for k in ("age", "kms", "pgp", "gcp_kms", "azure_keyvault") if k in rule
        ]
        assert recipients
        assert all(is_placeholder(r) for r in recipients)
