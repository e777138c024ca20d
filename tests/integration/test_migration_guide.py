"""docs/migration.md, run as written: every file block is written (`# file: NAME`), every
command of every `sh` block is run in order in one directory against a restate-server of its
own, the real services and moto's Step Functions as a server (the guide's local addresses
replaced by theirs), and each must exit 0. The same definition then ends the same on every
provider, the provider being the one the settings name at that step; a rollback's executions
on Restate stay readable."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from local_stack import LocalRestateServer
from tests.asl_corpus import REGION
from tests.aws import moto_server
from tests.servers import REPO_ROOT, AsgiProcess, environment_without_settings

GUIDE = REPO_ROOT / "docs" / "migration.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_FILE = re.compile(r"^# file: (\S+)\n")
COMMAND_TIMEOUT_SECONDS = 120


@dataclass
class Ran:
    """One command of the guide and what it printed."""

    command: str
    stdout: str


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))]


def test_the_guide_names_the_files_it_runs() -> None:
    written = {found.group(1) for _, body in _blocks() if (found := _FILE.match(body))}
    assert written == {"lifecycle.yaml", "control_plane.py", "landlord.yaml", "landlord-sfn.yaml"}


def test_every_step_of_the_migration_guide_runs_as_written(
    own_restate_server: LocalRestateServer, tmp_path: Path
) -> None:
    (tmp_path / "services").mkdir()
    services = AsgiProcess(
        app_ref="services.app:app",
        work_dir=tmp_path / "services",
        env={"LANDLORD_SERVICES_STATE_DIR": str(tmp_path / "tenants")},
    )
    work = tmp_path / "guide"
    work.mkdir()
    with moto_server(region=REGION) as aws:
        services.start()
        try:
            ran = _run_guide(work, own_restate_server, services.url, aws)
        finally:
            services.stop()

    outcomes = [json.loads(r.stdout) for r in ran if "control_plane.py" in r.command]
    assert [o["provider"] for o in outcomes] == ["mock", "restate", "mock"]
    assert all(o["state"] == "succeeded" for o in outcomes)
    expected = outcomes[0]["output"]
    assert expected == {"tenant": "acme", "tier": "pro", "greeting": "welcome, acme"}
    assert all(o["output"] == expected for o in outcomes)

    started = [json.loads(r.stdout) for r in ran if "execution start" in r.command]
    assert [s["provider_type"] for s in started] == [
        "step-functions",
        "restate",
        "restate",
        "step-functions",
    ]
    assert all(s["state"] == "succeeded" and s["output"] == expected for s in started)

    on_restate = {s["execution_id"] for s in started if s["provider_type"] == "restate"}
    listed = [r.stdout for r in ran if "execution list" in r.command]
    assert len(listed) == 2
    assert all(execution_id in listed[-1] for execution_id in on_restate)


def _run_guide(
    work: Path, server: LocalRestateServer, services_url: str, aws: dict[str, str]
) -> list[Ran]:
    addresses = {
        "http://localhost:8080": server.ingress_url,
        "http://localhost:9070": server.admin_url,
        "http://localhost:9080": services_url,
        "http://localhost:5000": aws["AWS_ENDPOINT_URL"],
    }
    env = environment_without_settings() | aws
    env.pop("AWS_ENDPOINT_URL")  # the guide's settings name the endpoint
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ran = []
    for kind, body in _blocks():
        for local, real in addresses.items():
            body = body.replace(local, real)
        named = _FILE.match(body)
        if named:
            (work / named.group(1)).write_text(body, encoding="utf-8")
            continue
        if kind != "sh":
            continue
        for command in filter(None, (line.strip() for line in body.splitlines())):
            if command.endswith("&"):  # a server the guide starts in the background: started
                continue  # by this test (the services above)
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_SECONDS,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            ran.append(Ran(command, done.stdout))
    return ran
