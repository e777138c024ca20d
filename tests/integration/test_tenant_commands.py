"""`landlord-restate tenant …` as an operator runs it, against a server of its own and the real
tenant workflow: provision with --watch, a repeat that finds the same execution, status, an
update with a changed config, list, delete; a bad tenant id, a missing config file and an
unknown tenant each end in one line with nothing started; no log line unless --verbose."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local_stack import LocalRestateServer
from tests.servers import AsgiProcess, environment_without_settings

SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def landlord(
    own_restate_server: LocalRestateServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    """The command against a server of its own and the services, the tenant workflow
    registered."""
    work = tmp_path_factory.mktemp("tenant-commands")
    server = own_restate_server
    services = AsgiProcess(
        app_ref="services.app:app",
        work_dir=work,
        env={"LANDLORD_SERVICES_STATE_DIR": str(work / "tenants")},
    )
    services.start()
    env = environment_without_settings() | {
        "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": server.ingress_url,
        "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT": server.admin_url,
        "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI": services.url,
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120, cwd=work
        )

    try:
        registered = run("register")
        assert registered.returncode == 0, registered.stderr
        yield run
    finally:
        services.stop()


def _config(tmp_path: Path, name: str, document: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document) if name.endswith(".json") else str(document))
    return str(path)


def _no_log_lines(stderr: str) -> None:
    assert not [line for line in stderr.splitlines() if line.lstrip().startswith("{")], stderr


def test_a_tenants_lifecycle_through_the_tenant_commands(landlord: Run, tmp_path: Path) -> None:
    first = _config(tmp_path, "acme.yaml", "settings:\n  image: nginx:1.27\n  replicas: 1\n")
    provisioned = landlord(
        "tenant", "provision", "acme", "--config", first, "--compute", "mock", "--watch"
    )
    assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
    assert "state:     succeeded" in provisioned.stdout
    assert provisioned.stderr.splitlines()[0].startswith("provision of tenant 'acme': ")
    _no_log_lines(provisioned.stderr)

    ran = json.loads(landlord("tenant", "status", "acme", "-o", "json").stdout)
    assert (ran["phase"], ran["operation"], ran["state"]) == ("ready", "provision", "succeeded")
    repeat = landlord(
        "tenant", "provision", "acme", "--config", first, "--compute", "mock", "-o", "json"
    )
    assert repeat.returncode == 0, repeat.stderr
    assert json.loads(repeat.stdout)["execution_id"] == ran["execution_id"]

    second = _config(tmp_path, "acme.json", {"settings": {"image": "nginx:1.28", "replicas": 2}})
    updated = landlord(
        "tenant", "update", "acme", "--config", second, "--compute", "mock", "--watch",
        "-o", "json",
    )  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    update = json.loads(updated.stdout)
    assert update["execution_id"] != ran["execution_id"]
    assert update["output"]["phase"] == "ready"

    listed = json.loads(landlord("tenant", "list", "-o", "json").stdout)
    assert [(t["tenant_id"], t["operation"], t["phase"]) for t in listed] == [
        ("acme", "update", "ready")
    ]
    table = landlord("tenant", "list")
    assert table.stdout.splitlines()[1].split()[:3] == ["acme", "ready", "update"]

    deleted = landlord("tenant", "delete", "acme", "--compute", "mock", "--watch")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    gone = landlord("tenant", "status", "acme")
    assert gone.returncode == 0
    assert "phase:     archived" in gone.stdout.splitlines()
    assert gone.stderr == ""

    verbose = landlord("--verbose", "tenant", "status", "acme")
    assert any(line.lstrip().startswith("{") for line in verbose.stderr.splitlines())


def test_bad_input_is_one_line_and_starts_nothing(landlord: Run, tmp_path: Path) -> None:
    before = landlord("tenant", "list", "-o", "json").stdout

    bad_id = landlord("tenant", "provision", "bad id!", "--compute", "mock")
    assert bad_id.returncode == 1
    assert bad_id.stderr.splitlines()[0] == "error: invalid provision request"
    assert "tenant_id" in bad_id.stderr

    missing = landlord("tenant", "provision", "acme", "--config", str(tmp_path / "none.yaml"))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'none.yaml'}: no such file"

    listed = _config(tmp_path, "list.yaml", "- a\n- b\n")
    not_a_mapping = landlord("tenant", "update", "acme", "--config", listed)
    assert not_a_mapping.returncode == 2
    assert "must hold a mapping of desired config settings" in not_a_mapping.stderr

    nobody = landlord("tenant", "status", "nobody")
    assert nobody.returncode == 1
    assert nobody.stderr.strip() == "error: tenant 'nobody' has no operations"

    assert landlord("tenant", "list", "-o", "json").stdout == before
