"""The command line as a user meets it: help, config show, validate, executions (watched or
many at once), and their errors."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from provider import ExecutionInput, ExecutionStatus, Manager, Registry, WorkflowSpec
from provider.cli import main, runtime
from provider.cli import watch as watching
from provider.mock import MockBehavior, MockProvider

SECRET = "key_cl1s3cr3tABCDEFGH"
VALID = """\
workflow_id: tenant-provisioning
provider_type: mock
definition:
  steps: [plan, provision]
timeout: 30m
retry_policy:
  max_attempts: 5
"""


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    else:
        code = 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("LANDLORD_CONFIG", "LANDLORD_WORKFLOW_DEFAULT_PROVIDER"):
        monkeypatch.delenv(variable, raising=False)


def test_console_script_help() -> None:
    script = Path(sys.executable).with_name("landlord-restate")
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0
    for command in ("config", "validate", "run"):
        assert command in result.stdout
    assert "--workflow.restate.endpoint" in result.stdout


def test_config_show_names_every_source(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("workflow:\n  restate:\n    retry_attempts: 7\n")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_TIMEOUT", "5m")
    code, out, _ = cli(
        capsys,
        "--config",
        str(path),
        "config",
        "show",
        "--output",
        "json",
        "--workflow.restate.endpoint=http://flag:8080",
    )
    assert code == 0
    shown = json.loads(out)
    assert shown["workflow.restate.endpoint"] == {
        "value": "http://flag:8080",
        "source": "flag",
        "from": "--workflow.restate.endpoint",
    }
    assert shown["workflow.restate.timeout"]["value"] == "5m"
    assert shown["workflow.restate.timeout"]["from"] == "LANDLORD_WORKFLOW_RESTATE_TIMEOUT"
    assert shown["workflow.restate.retry_attempts"] == {
        "value": 7,
        "source": "file",
        "from": str(path),
    }
    assert shown["workflow.restate.admin_endpoint"]["source"] == "default"


@pytest.mark.parametrize("output", ["table", "json"])
def test_config_show_never_prints_the_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, output: str
) -> None:
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM", "cloud")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE", "api_key")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_API_KEY", SECRET)
    code, out, err = cli(capsys, "config", "show", "-o", output)
    assert code == 0
    assert SECRET not in out + err
    assert "**********" in out
    assert "workflow.restate.api_key" in out


@pytest.mark.parametrize("output", ["table", "json"])
def test_config_show_prints_the_key_file_path_never_its_content(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    output: str,
) -> None:
    marker = "key_0nlyInTh3F1leM4rker"
    path = tmp_path / "api-key"
    path.write_text(marker + "\n")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM", "cloud")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE", "api_key")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE", str(path))
    monkeypatch.setenv("COLUMNS", "400")  # the table, unwrapped, whatever the path's length
    code, out, err = cli(capsys, "config", "show", "-o", output)
    assert code == 0
    assert marker not in out + err
    if output == "json":
        assert json.loads(out)["workflow.restate.api_key_file"] == {
            "value": str(path),
            "source": "env",
            "from": "LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE",
        }
    else:
        line = next(line for line in out.splitlines() if "workflow.restate.api_key_file" in line)
        assert line.split() == [
            "workflow.restate.api_key_file",
            str(path),
            "env",
            "LANDLORD_WORKFLOW_RESTATE_API_KEY_FILE",
        ]


def test_config_show_refuses_api_key_with_key_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    marker = "key_0nlyInTh3F1leM4rker"
    path = tmp_path / "api-key"
    path.write_text(marker)
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM", "cloud")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_AUTH_TYPE", "api_key")
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_API_KEY", SECRET)
    code, out, err = cli(capsys, "config", "show", f"--workflow.restate.api-key-file={path}")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "workflow.restate.api_key: cannot be set together with api_key_file" in err
    assert SECRET not in err
    assert marker not in err


def test_config_show_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "config", "show")
    assert code == 0
    line = next(line for line in out.splitlines() if "workflow.restate.endpoint" in line)
    assert line.split() == ["workflow.restate.endpoint", "http://localhost:8080", "default"]


def test_bad_config_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM", "moon")
    code, out, err = cli(capsys, "config", "show")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: invalid configuration: workflow.restate.execution_mechanism:")


def test_config_flag_without_value(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "config", "show", "--workflow.restate.endpoint")
    assert code == 2
    assert "needs a value" in err


def test_validate_a_valid_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(VALID)
    code, out, _ = cli(capsys, "validate", str(path))
    assert code == 0
    assert "valid workflow spec 'tenant-provisioning' (provider mock)" in out


def test_validate_json_spec(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(
        json.dumps({"workflow_id": "x", "provider_type": "mock", "definition": {"a": 1}})
    )
    assert cli(capsys, "validate", str(path))[0] == 0


def test_validate_lists_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "workflow_id: Tenant_Provisioning\nprovider_type: mock\ndefinition: {}\n"
        "timeout: soon\nretry_policy: {backoff_rate: 0.5}\n"
    )
    code, out, err = cli(capsys, "validate", str(path))
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"{path}: invalid workflow spec"
    assert lines[1:] == [
        "  - workflow_id: must match ^[a-z0-9-]{1,128}$",
        "  - definition: must not be empty",
        "  - timeout: must be a duration such as 30s, 5m or 1h30m",
        "  - retry_policy.backoff_rate: must be >= 1.0",
    ]
    assert "Traceback" not in err


def test_validate_runs_provider_rules(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(VALID + "provider_config: {outcome: explode}\n")
    code, _, err = cli(capsys, "validate", str(path))
    assert code == 1
    assert "provider_config.outcome: must be one of" in err


def test_validate_uses_the_default_provider(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("workflow_id: t\ndefinition: {a: 1}\n")
    code, out, _ = cli(capsys, "validate", str(path), "--workflow.default_provider=mock")
    assert code == 0
    assert "(provider mock)" in out


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("spec.yaml", "workflow_id: [\n", "invalid YAML at line 2"),
        ("spec.json", "{not json", "invalid JSON at line 1"),
        ("spec.yaml", "- a list\n", "must hold a mapping of workflow spec fields"),
        ("spec.yaml", None, "no such file"),
    ],
)
def test_validate_unreadable_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, text: str | None, expected: str
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    code, _, err = cli(capsys, "validate", str(path))
    assert code == 2
    assert err.count("\n") == 1
    assert expected in err


def test_run_refuses_a_remote_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "run", "--workflow.restate.endpoint=https://restate.example.com")
    assert code == 2
    assert "workflow.restate.endpoint: run starts a local server" in err


# -- executions: --watch waits instead of polling; several ids are read together -----------


class _Engine(MockProvider):
    """The mock every command in a test talks to, counting the calls that reach it; with
    `waiting` set, it signals when a wait has begun."""

    def __init__(self, behavior: MockBehavior) -> None:
        super().__init__(default_behavior=behavior)
        self.calls: list[str] = []
        self.waiting = threading.Event()

    async def get_execution_status(self, execution_id: str) -> ExecutionStatus:
        self.calls.append("get_execution_status")
        return await super().get_execution_status(execution_id)

    async def get_execution_statuses(self, execution_ids: Any) -> dict[str, ExecutionStatus]:
        self.calls.append("get_execution_statuses")
        return await super().get_execution_statuses(execution_ids)

    async def wait_for_execution(self, execution_id: str, *, timeout: timedelta) -> ExecutionStatus:
        self.calls.append("wait_for_execution")
        self.waiting.set()
        return await super().wait_for_execution(execution_id, timeout=timeout)


def _engine(monkeypatch: pytest.MonkeyPatch, behavior: MockBehavior) -> _Engine:
    """Every command of the test gets a manager over one shared engine with the workflow."""
    engine = _Engine(behavior)
    asyncio.run(engine.create_workflow(WorkflowSpec(workflow_id="wf", definition={"a": 1})))
    registry = Registry()
    registry.register(engine)
    monkeypatch.setattr(
        runtime, "build_manager", lambda settings: Manager(registry, default_provider="mock")
    )
    return engine


def _start(engine: _Engine, name: str) -> str:
    started = asyncio.run(engine.start_execution("wf", ExecutionInput(execution_name=name)))
    return started.execution_id


def test_start_watch_follows_the_execution_to_its_end(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(monkeypatch, MockBehavior.succeed(output={"ready": True}, after_polls=3))
    monkeypatch.setattr(watching, "REFRESH", timedelta(milliseconds=50))
    code, out, err = cli(capsys, "execution", "start", "wf", "--name", "n1", "--watch")
    assert code == 0
    assert "started: wf:n1" in err
    assert "succeeded" in err  # the progress line, on stderr
    assert "state:     succeeded" in out
    assert 'output:    {"ready": true}' in out
    assert engine.calls == ["wait_for_execution"] * 3  # one wait per refresh, no other reads


def test_status_watch_returns_as_soon_as_the_execution_ends(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(monkeypatch, MockBehavior.run_forever())
    execution_id = _start(engine, "n2")
    monkeypatch.setattr(watching, "REFRESH", timedelta(seconds=60))

    def stop_once_watched() -> None:
        engine.waiting.wait(timeout=30)
        asyncio.run(engine.stop_execution(execution_id, "operator"))

    stopper = threading.Thread(target=stop_once_watched)
    stopper.start()
    began = time.monotonic()
    code, out, _ = cli(capsys, "execution", "status", execution_id, "--watch", "-o", "json")
    stopper.join(timeout=30)
    assert time.monotonic() - began < 10  # not the 60 s a round would last
    assert code == 3
    assert json.loads(out)["state"] == "cancelled"
    assert engine.calls == ["wait_for_execution"]


def test_status_of_several_ids_reads_them_together(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(monkeypatch, MockBehavior.succeed())
    one, two = _start(engine, "a"), _start(engine, "b")
    code, out, err = cli(capsys, "execution", "status", two, one, two, "-o", "json")
    assert code == 0
    assert [(s["execution_id"], s["state"]) for s in json.loads(out)] == [
        (two, "succeeded"),
        (one, "succeeded"),
    ]
    assert engine.calls == ["get_execution_statuses"]
    code, out, err = cli(capsys, "execution", "status", one, "wf:missing")
    assert code == 1
    assert one in out
    assert "error: execution 'wf:missing' not found" in err


def test_status_of_several_ids_exits_3_when_one_ended_badly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(monkeypatch, MockBehavior.run_forever())
    one, two = _start(engine, "a"), _start(engine, "b")
    asyncio.run(engine.stop_execution(two, "no longer wanted"))
    code, out, _ = cli(capsys, "execution", "status", one, two)
    assert code == 3
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert rows == {one: "running", two: "cancelled"}


def test_watch_follows_one_execution(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _engine(monkeypatch, MockBehavior.succeed())
    code, out, err = cli(capsys, "execution", "status", "wf:a", "wf:b", "--watch")
    assert (code, out) == (2, "")
    assert err == "error: --watch follows one execution: give one id\n"
    assert engine.calls == []
