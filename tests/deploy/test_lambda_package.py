"""deploy/lambda/package.py: the zip it builds for this machine answers Restate's discovery in an
interpreter that sees nothing but the zip, it is lean and reproducible, the template's default
runtime and architecture resolve to wheels, and failures leave no zip behind. Needs PyPI."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sealing import KEYRING_ENV, Keyring
from tests.deploy.manifests import LAMBDA_PACKAGE as PACKAGE_SCRIPT
from tests.deploy.manifests import lambda_package
from tests.lambda_events import decoded_body, discovery_event

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "deploy" / "lambda" / "template.yaml"
THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
THIS_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), ""
)
BUILD_TIMEOUT_SECONDS = 240

# Runs in a separate interpreter with only the unpacked zip on sys.path, as Lambda's runtime
# imports the template's Handler (`module.attribute`) and calls it with (event, context).
_INVOKE = """
import importlib, json, sys, types
result_path, handler_name = sys.argv[1:3]
event = json.loads(sys.stdin.read())
module_name, _, attribute = handler_name.rpartition(".")
module = importlib.import_module(module_name)
handler = getattr(module, attribute)
import restate._internal
context = types.SimpleNamespace(function_name="landlord-services", aws_request_id="req-1")
response = handler(event, context)
with open(result_path, "w") as out:
    json.dump({
        "response": response,
        "sys_path": sys.path,
        "files": [module.__file__, restate._internal.__file__],
    }, out)
"""

# Seals and opens one value with the keyring of the environment, as the services' step does.
_SEAL_AND_OPEN = """
import json
import cryptography
from sealing import Binding, Envelope, Keyring, open_envelope, seal
keyring = Keyring.from_environment()
binding = Binding(tenant_id="acme", execution="run-1", field="desired_config.env.A")
envelope = Envelope.of(seal("opened", keyring=keyring, binding=binding))
print(json.dumps({
    "opened": open_envelope(envelope, keyring=keyring, binding=binding),
    "current": keyring.current,
    "cryptography": cryptography.__file__,
}))
"""

pytestmark = [
    pytest.mark.timeout(2 * BUILD_TIMEOUT_SECONDS),
    pytest.mark.skipif(not THIS_ARCH, reason=f"no Lambda architecture for {platform.machine()}"),
]


package = lambda_package()


def start_package(*args: str) -> subprocess.Popen[str]:
    """package.py as a user runs it, from a directory outside the repository."""
    return subprocess.Popen(
        [sys.executable, str(PACKAGE_SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(args[args.index("--output") + 1]).parent,
    )


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    """Wait for a started package.py run and collect what it printed."""
    try:
        stdout, stderr = process.communicate(timeout=BUILD_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_package(*args: str) -> subprocess.CompletedProcess[str]:
    """Run package.py to the end."""
    return finish(start_package(*args))


@dataclass(frozen=True)
class SideRuns:
    """Runs that only resolve dependencies, started beside the build to overlap its wait."""

    defaults_dry_run: subprocess.Popen[str]
    defaults_dir: Path
    unresolvable: subprocess.Popen[str]
    unresolvable_output: Path


@pytest.fixture(scope="module")
def side_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SideRuns]:
    """The template-defaults dry run and the python3.11/arm64 run that cannot resolve."""
    defaults_dir = tmp_path_factory.mktemp("lambda-defaults")
    unresolvable_output = tmp_path_factory.mktemp("lambda-unresolvable") / "lambda.zip"
    runs = SideRuns(
        start_package("--output", str(defaults_dir / "lambda.zip"), "--dry-run"),
        defaults_dir,
        start_package(
            "--output", str(unresolvable_output), "--python-version", "3.11", "--arch", "arm64"
        ),
        unresolvable_output,
    )
    yield runs
    for process in (runs.defaults_dry_run, runs.unresolvable):
        if process.poll() is None:
            process.kill()
        process.communicate()


@dataclass(frozen=True)
class Built:
    """The zip built once for this session, its unpacked tree and the script's output."""

    zip_path: Path
    unpacked: Path
    stdout: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, side_runs: SideRuns) -> Built:
    """One build for this machine's Python and architecture, so the zip imports here (the
    side runs go on meanwhile)."""
    out = tmp_path_factory.mktemp("lambda-build")
    zip_path = out / "lambda.zip"
    result = run_package(
        "--output", str(zip_path), "--python-version", THIS_PYTHON, "--arch", THIS_ARCH
    )
    assert result.returncode == 0, result.stderr
    unpacked = out / "unpacked"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(unpacked)
    return Built(zip_path, unpacked, result.stdout)


def template_handler() -> str:
    """The function's Handler in the SAM template (what Lambda will import)."""
    found: list[str] = re.findall(r"^\s+Handler:\s*(\S+)\s*$", TEMPLATE.read_text(), re.MULTILINE)
    (handler,) = found
    return handler


def isolated_env(unpacked: Path, **extra: str) -> dict[str, str]:
    """Lambda's view: only the unpacked zip on the path, the function name set, and `extra`
    (the template's function environment)."""
    return {
        "PYTHONPATH": str(unpacked),
        "AWS_LAMBDA_FUNCTION_NAME": "landlord-services",
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        **extra,
    }


def invoke_in_isolation(
    unpacked: Path, event: dict[str, Any], tmp_path: Path, **extra_env: str
) -> dict[str, Any]:
    """Invoke the zip's handler in a fresh interpreter: no site-packages (-S), no cwd on sys.path
    (-P), no bytecode written (-B: /var/task is read-only), only PYTHONPATH=<unpacked zip>."""
    result_file = tmp_path / "result.json"
    env = isolated_env(unpacked, **extra_env)
    completed = subprocess.run(
        [sys.executable, "-S", "-P", "-B", "-c", _INVOKE, str(result_file), template_handler()],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


def test_zip_answers_discovery_with_only_itself_on_the_path(built: Built, tmp_path: Path) -> None:
    """Imported from the unpacked zip alone, the template's Handler is a Lambda handler whose
    discovery answer lists the TenantProvisioning workflow."""
    result = invoke_in_isolation(built.unpacked, discovery_event(), tmp_path)

    # Nothing came from the venv or the repository: the zip is self-contained.
    assert not [entry for entry in result["sys_path"] if "site-packages" in entry]
    for module_file in result["files"]:
        assert Path(module_file).is_relative_to(built.unpacked), module_file
    response = result["response"]
    assert response["statusCode"] == 200, decoded_body(response)
    manifest = json.loads(decoded_body(response))
    assert manifest["protocolMode"] == "REQUEST_RESPONSE"
    services = {service["name"]: service for service in manifest["services"]}
    workflow = services["TenantProvisioning"]
    assert workflow["ty"] == "WORKFLOW"
    assert "run" in {handler["name"] for handler in workflow["handlers"]}


def test_zip_opens_sealed_secrets_with_the_keyring_from_the_environment(
    built: Built, tmp_path: Path
) -> None:
    """With LANDLORD_SECRETS_KEYRING set, as the template sets it, the handler still answers
    discovery, and the zip's own sealing and cryptography open what they sealed."""
    keyring = f"{Keyring.new_entry('k2')},{Keyring.new_entry('k1')}"
    result = invoke_in_isolation(
        built.unpacked, discovery_event(), tmp_path, **{KEYRING_ENV: keyring}
    )
    assert result["response"]["statusCode"] == 200, decoded_body(result["response"])
    completed = subprocess.run(
        [sys.executable, "-S", "-P", "-B", "-c", _SEAL_AND_OPEN],
        capture_output=True,
        text=True,
        env=isolated_env(built.unpacked, **{KEYRING_ENV: keyring}),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    opened = json.loads(completed.stdout)
    assert opened["opened"] == "opened"
    assert opened["current"] == "k2"
    assert Path(opened["cryptography"]).is_relative_to(built.unpacked)


SERVING_ONLY_ABSENT = {
    # the control plane and the local-stack tooling
    "provider", "local_stack",
    # the extras: ecs / step-functions, docker, the CLI
    "boto3", "botocore", "docker", "typer", "rich", "click",
    "stamina", "jsonschema", "yaml",
    # the CLI's metrics exporter (the services use the OpenTelemetry API only)
    "opentelemetry.sdk", "opentelemetry.exporter",
    # the dev extra
    "pytest", "_pytest", "mypy", "ruff", "moto", "hypothesis", "cfnlint",
}  # fmt: skip
"""What the zip must not hold: it is the distribution without extras, serving's packages only."""
SERVING_PRESENT = {
    "services", "telemetry", "sealing", "restate", "pydantic_core", "hypercorn", "structlog",
    # sealing's AES-256-GCM (the services open sealed secrets), a core dependency
    "cryptography",
    # spans of runs and steps (the API), and the metrics the services count
    "opentelemetry", "prometheus_client",
}  # fmt: skip
"""What the zip must hold: serving's packages and the dependencies they import."""


def test_zip_holds_runtime_dependencies_for_this_platform_and_no_bloat(built: Built) -> None:
    """Serving's packages (sealing included) and dependencies (cryptography included) with their
    compiled modules for this Python; no control plane, no extra's library, no dev deps,
    bytecode, console scripts, install records or paths of this machine."""
    with zipfile.ZipFile(built.zip_path) as archive:
        names = archive.namelist()
    top = {name.split("/", 1)[0] for name in names}
    second = {".".join(name.split("/")[:2]) for name in names if name.count("/") >= 2}
    assert not SERVING_PRESENT - top, sorted(SERVING_PRESENT - top)
    assert not (top | second) & SERVING_ONLY_ABSENT, sorted((top | second) & SERVING_ONLY_ABSENT)
    tag = f"cpython-{THIS_PYTHON.replace('.', '')}-{platform.machine()}-linux-gnu"
    assert any(name.startswith("restate/_internal.") and tag in name for name in names), tag
    assert not [n for n in names if "__pycache__/" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith("bin/")]
    assert not [
        n
        for n in names
        if ".dist-info/" in n and n.rsplit("/", 1)[1] in {"RECORD", "direct_url.json"}
    ]
    machine_paths = {str(REPO_ROOT), sys.prefix}
    for path in built.unpacked.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [p for p in machine_paths if p.encode() in data], path
    assert "wrote" in built.stdout
    assert "zipped" in built.stdout


def test_zip_is_reproducible(built: Built, tmp_path: Path) -> None:
    """Sorted entries, fixed timestamps and modes: zipping the same tree gives the same bytes."""
    with zipfile.ZipFile(built.zip_path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {package.FIXED_DATE_TIME}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}

    again = tmp_path / "again.zip"
    package.write_zip(built.unpacked, again)
    assert again.read_bytes() == built.zip_path.read_bytes()


def test_template_defaults_resolve_to_published_wheels(side_runs: SideRuns) -> None:
    """The template's Runtime and Architecture (package.py's defaults) resolve every runtime
    dependency, restate-sdk's compiled wheel included, to a wheel Lambda can load."""
    python_version, arch = package.template_defaults(TEMPLATE)
    assert TEMPLATE.read_text().count(f"Runtime: python{python_version}") == 1

    result = finish(side_runs.defaults_dry_run)

    assert result.returncode == 0, result.stderr
    machine = package.MACHINES[arch]
    assert f"cp{python_version.replace('.', '')} manylinux {machine}" in result.stdout
    would_install = next(
        line for line in result.stdout.splitlines() if line.startswith("Would install")
    )
    assert "restate-sdk-1.3." in would_install
    assert "pydantic_core-" in would_install
    assert list(side_runs.defaults_dir.iterdir()) == []


def test_failed_pip_is_one_line_and_leaves_no_zip(side_runs: SideRuns) -> None:
    """python3.11 runs on Amazon Linux 2 (glibc 2.26); restate-sdk's arm64 wheels need glibc
    2.28, so that target cannot resolve: exit 1, one line naming restate-sdk, no file."""
    output = side_runs.unresolvable_output

    result = finish(side_runs.unresolvable)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("package.py: error: installing dependencies failed:")
    assert "restate-sdk" in result.stderr
    assert list(output.parent.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "sparc"], "invalid choice: 'sparc'"),
        (["--python-version", "2.7"], "invalid choice: '2.7'"),
        (["--python-version", "3.12", "--output-dir", "x"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """Bad arguments: exit 2, the usage error on stderr, nothing written."""
    result = run_package("--output", str(tmp_path / "lambda.zip"), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_output_must_be_a_zip_path(tmp_path: Path) -> None:
    """An --output that is a directory or not a .zip is refused with one line."""
    for output in (tmp_path, tmp_path / "lambda.tar"):
        result = run_package("--output", str(output))
        assert result.returncode == 2
        assert result.stderr.strip().endswith("must be a .zip file path"), result.stderr
        assert result.stderr.count("\n") == 1


def test_platform_tags_reach_restate_sdks_arm64_wheels() -> None:
    """arm64 on python3.12 (glibc 2.34) includes manylinux_2_28, the only Linux arm64 tag
    restate-sdk 1.3 publishes; python3.11 (glibc 2.26) does not."""
    tags = package.platform_tags("3.12", "arm64")
    assert "manylinux_2_28_aarch64" in tags
    assert "manylinux2014_aarch64" in tags
    assert tags[0] == "manylinux_2_34_aarch64"
    assert "manylinux_2_28_aarch64" not in package.platform_tags("3.11", "arm64")
    assert "manylinux1_x86_64" in package.platform_tags("3.11", "x86_64")
