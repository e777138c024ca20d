"""Every recipe gives the services (and the control-plane step beside them) the secrets keyring
from a secret, a file or a parameter, never as a value written in the recipe: the Kubernetes
trees (plain, operator, cloud) mount a hand-made Secret read-only, self-hosted names a 0600
file, compose requires it from the environment. Lambda and Fargate: test_cloudformation.py."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import PurePosixPath

import pytest
import yaml

from sealing import KEYRING_ENV, KEYRING_FILE_ENV, Keyring
from tests.deploy.manifests import (
    DEPLOY_DIR,
    REPO_ROOT,
    Manifest,
    Resource,
    containers,
    env_map,
    find,
    load_kustomization,
    pod_template,
    secret_findings,
    secret_manifest_problems,
    templates_in,
)
from tests.integration.self_hosted import LANDLORD_ENV, read_env_file, read_unit, unit_environment

KEYRING_SECRET, KEYRING_KEY = "landlord-secrets-keyring", "keyring"
KEYRING_LITERAL = "secrets keyring key"
"""The name of the scan (tests/deploy/manifests.py) for a `kid=<43 base64url characters>`."""

Resources = list[Resource]


@pytest.fixture(scope="module")
def fresh_keyring() -> str:
    """A real keyring of two entries, for what the scan must catch."""
    return f"{Keyring.new_entry('k2')},{Keyring.new_entry('k1')}"


# -- Kubernetes: a read-only mount of a hand-made Secret ---------------------------------------


def keyring_mount_problems(workload: Resource, hand_made: Resources) -> list[str]:
    """The workload's first container reads the keyring from `LANDLORD_SECRETS_KEYRING_FILE`
    (never `LANDLORD_SECRETS_KEYRING`): key `keyring` of Secret `landlord-secrets-keyring`,
    mounted read-only, readable by the pod's non-root user, and that Secret exists only as a
    placeholder template in the workload's namespace."""
    container, spec = containers(workload)[0], pod_template(workload)["spec"]
    env = env_map(container)
    problems = []
    if KEYRING_ENV in env:
        problems.append(f"{workload}: {KEYRING_ENV} passes the keyring as an environment value")
    entry = env.get(KEYRING_FILE_ENV, {})
    if "value" not in entry:
        return [*problems, f"{workload}: {KEYRING_FILE_ENV} is not a path"]
    path = PurePosixPath(str(entry["value"]))
    mounts = [m for m in container.get("volumeMounts", []) if path.is_relative_to(m["mountPath"])]
    if not mounts:
        return [*problems, f"{workload}: {path} is on no volume mount"]
    mount = mounts[0]
    if mount.get("readOnly") is not True:
        problems.append(f"{workload}: {mount['mountPath']} is not mounted read-only")
    volume: Manifest = next((v for v in spec.get("volumes", []) if v["name"] == mount["name"]), {})
    secret = volume.get("secret", {})
    if secret.get("secretName") != KEYRING_SECRET:
        problems.append(f"{workload}: volume {mount['name']} is not the {KEYRING_SECRET} Secret")
    inside = str(path.relative_to(mount["mountPath"]))
    if {"key": KEYRING_KEY, "path": inside} not in secret.get("items", []):
        problems.append(f"{workload}: the Secret's key {KEYRING_KEY} is not mounted as {inside}")
    mode, pod = secret.get("defaultMode", 0o644), spec.get("securityContext", {})
    if pod.get("runAsUser", 0) != 0 and not mode & 0o004 and "fsGroup" not in pod:
        problems.append(f"{workload}: mode {mode:o} without fsGroup: the user cannot read it")
    templates = [
        r
        for r in hand_made
        if r.kind == "Secret" and r.name == KEYRING_SECRET and r.namespace == workload.namespace
    ]
    if not templates:
        problems.append(
            f"{workload}: no {KEYRING_SECRET} template in namespace {workload.namespace}"
        )
    for template in templates:
        problems += [f"{template}: {p}" for p in secret_manifest_problems(template.body)]
        if KEYRING_KEY not in (template.body.get("stringData") or {}):
            problems.append(f"{template}: no key {KEYRING_KEY}")
    return problems


TREES = {
    "plain": (DEPLOY_DIR / "kubernetes" / "plain", "Deployment"),
    "operator": (DEPLOY_DIR / "kubernetes" / "operator", "RestateDeployment"),
    "cloud": (DEPLOY_DIR / "cloud", "Deployment"),
}
"""Each tree with the kind of its services workload (the controller is the Deployment
`landlord-controller` in all)."""


def tree_problems(tree: str, resources: Resources, hand_made: Resources) -> list[str]:
    """The services and the controller of a tree both read the mounted keyring."""
    kind = TREES[tree][1]
    return [
        problem
        for workload in (
            find(resources, kind, "landlord-services"),
            find(resources, "Deployment", "landlord-controller"),
        )
        for problem in keyring_mount_problems(workload, hand_made)
    ]


@pytest.mark.parametrize("tree", TREES)
def test_kubernetes_services_and_job_read_the_keyring_from_a_mounted_secret(tree: str) -> None:
    """Plain, operator and cloud: the keyring is a file of a read-only Secret mount whose
    Secret is a placeholder template, with the instructions to create it."""
    directory = TREES[tree][0]
    hand_made = templates_in(directory)
    assert tree_problems(tree, load_kustomization(directory), hand_made) == []
    (template,) = [r for r in hand_made if r.name == KEYRING_SECRET]
    instructions = template.source.read_text()
    assert "kubectl" in instructions
    assert "landlord-restate secrets keygen" in instructions
    if tree == "cloud":
        assert "sops encrypt" in instructions


def _env_entry(resources: Resources, kind: str, name: str) -> Manifest:
    return env_map(containers(find(resources, kind, name))[0])[KEYRING_FILE_ENV]


def _as_literal(resources: Resources) -> None:
    entry = _env_entry(resources, "Deployment", "landlord-services")
    entry.clear()
    entry.update(name=KEYRING_ENV, value=Keyring.new_entry("k1"))


def _mount(resources: Resources, kind: str, name: str) -> Manifest:
    workload = find(resources, kind, name)
    return next(
        m for m in containers(workload)[0]["volumeMounts"] if m["name"] == "secrets-keyring"
    )


def _volume(resources: Resources, kind: str, name: str) -> Manifest:
    spec = pod_template(find(resources, kind, name))["spec"]
    return next(v for v in spec["volumes"] if v["name"] == "secrets-keyring")


BREAKAGES: dict[str, Callable[[Resources], object]] = {
    "keyring as a value": _as_literal,
    "keyring path outside the mount": lambda rs: _env_entry(
        rs, "Deployment", "landlord-controller"
    ).update(value="/etc/keyring"),
    "keyring mount writable": lambda rs: _mount(rs, "Deployment", "landlord-services").update(
        readOnly=False
    ),
    "keyring from another Secret": lambda rs: _volume(rs, "Deployment", "landlord-controller")[
        "secret"
    ].update(secretName="other"),
    "keyring unreadable by the user": lambda rs: pod_template(
        find(rs, "Deployment", "landlord-controller")
    )["spec"]["securityContext"].pop("fsGroup"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_keyring_check_fails_on_a_broken_copy(breakage: str) -> None:
    """Each way of handing the keyring over wrongly is reported (on the plain tree)."""
    directory = TREES["plain"][0]
    broken = [Resource(copy.deepcopy(r.body), r.source) for r in load_kustomization(directory)]
    BREAKAGES[breakage](broken)
    assert tree_problems("plain", broken, templates_in(directory))


def test_a_real_keyring_in_a_template_is_refused() -> None:
    """A template holding a real keyring instead of the placeholder is reported."""
    directory = TREES["plain"][0]
    hand_made = [Resource(copy.deepcopy(r.body), r.source) for r in templates_in(directory)]
    find(hand_made, "Secret", KEYRING_SECRET).body["stringData"][KEYRING_KEY] = Keyring.new_entry(
        "k1"
    )
    assert tree_problems("plain", load_kustomization(directory), hand_made)


# -- self-hosted: a 0600 file named in landlord.env --------------------------------------------


def test_self_hosted_units_read_the_keyring_from_a_file() -> None:
    """landlord.env, which both landlord units read, names the keyring file (an absolute path
    under /etc/landlord, which ProtectSystem=strict leaves readable) and holds no keyring; no
    unit passes one in its own environment; the guide makes the file with mode 0600."""
    recipe = read_env_file(LANDLORD_ENV)
    assert KEYRING_ENV not in recipe
    path = PurePosixPath(recipe[KEYRING_FILE_ENV])
    assert path.is_absolute()
    assert path.is_relative_to("/etc/landlord")
    for unit in ("landlord-services.service", "landlord-controller.service"):
        service = read_unit(unit)["Service"]
        assert service["EnvironmentFile"] == "/etc/landlord/landlord.env", unit
        assert service["ProtectSystem"] == "strict", unit
        assert not {KEYRING_ENV, KEYRING_FILE_ENV} & set(unit_environment(unit)), unit
        assert str(path) not in service.get("InaccessiblePaths", ""), unit
    guide = (REPO_ROOT / "docs" / "self-hosted.md").read_text()
    assert f"install -m 0600 -o landlord -g landlord /dev/null {path}" in guide
    assert KEYRING_LITERAL not in secret_findings(LANDLORD_ENV.read_text())


# -- compose: required from the environment ----------------------------------------------------


def test_compose_requires_the_keyring_from_the_environment() -> None:
    """The services and the controller get LANDLORD_SECRETS_KEYRING only by interpolation
    of the same variable, required (`:?`), never a value; restate-server gets none."""
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("services", "controller"):
        value = str(services[name]["environment"][KEYRING_ENV])
        assert value.startswith(f"${{{KEYRING_ENV}:?"), (name, value)
        assert value.endswith("}")
    for name in ("restate", "identity"):
        assert KEYRING_ENV not in (services[name].get("environment") or {}), name


# -- nowhere a real keyring --------------------------------------------------------------------

RECIPE_FILES = sorted(
    path
    for path in [
        *DEPLOY_DIR.rglob("*"),
        *(REPO_ROOT / "docs").glob("*.md"),
        REPO_ROOT / "docker-compose.yml",
        REPO_ROOT / "Dockerfile",
        REPO_ROOT / "README.md",
    ]
    if path.is_file()
)


def test_no_recipe_or_guide_holds_a_keyring() -> None:
    """No `kid=<base64url of 32 bytes>` in any recipe, the compose file or any guide."""
    found = [
        str(path.relative_to(REPO_ROOT))
        for path in RECIPE_FILES
        if KEYRING_LITERAL in secret_findings(path.read_text(errors="replace"))
    ]
    assert found == []


@pytest.mark.parametrize(
    "shape",
    [
        "{keyring}",
        f"{KEYRING_ENV}={{keyring}}",
        f"{KEYRING_ENV}: {{keyring}}",
        "keyring: '{keyring}'",
        '"Value": "{keyring}"',
    ],
)
def test_the_scan_catches_a_real_keyring(shape: str, fresh_keyring: str) -> None:
    """The scan is not vacuous: a fresh keyring is caught as a value, an env line, in YAML and
    JSON, and a padded entry too; the notation the recipes write about is not."""
    assert KEYRING_LITERAL in secret_findings(shape.format(keyring=fresh_keyring))
    assert KEYRING_LITERAL in secret_findings(shape.format(keyring=Keyring.new_entry("k1") + "="))
    assert secret_findings("kid=<base64url of 32 bytes>[,kid=...] k1=REPLACE_ME") == []


def test_recipe_files_are_found() -> None:
    """The scan's file list holds the recipes it is about (an empty one would pass)."""
    names = {path.relative_to(REPO_ROOT).as_posix() for path in RECIPE_FILES}
    assert {
        "docker-compose.yml",
        "deploy/lambda/template.yaml",
        "deploy/fargate/services.yaml",
        "deploy/self-hosted/landlord.env",
        "deploy/kubernetes/plain/secrets-keyring.template.yaml",
        "deploy/cloud/secrets/secrets-keyring.template.yaml",
        "docs/local.md",
    } <= names
