"""The parts' boundaries: the deployment stands alone, and the control plane reaches into it
only through `services.contract` (the CLI's in-process `serve` and settings reference aside)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_BLOCK = """
import importlib.abc, json, sys
class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is blocked in this test")
        return None
sys.meta_path.insert(0, Blocked())
import {target}
print(json.dumps(sorted(sys.modules)))
"""

OPTIONAL = {"boto3", "botocore", "docker", "typer", "rich", "click", "cryptography"}
"""Libraries that only a backend or the CLI needs, or (cryptography) the first secret opened."""


def _loaded(target: str, *, blocked: set[str], tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter holds after importing `target` with `blocked` refused."""
    env = {**os.environ, "LANDLORD_SERVICES_STATE_DIR": str(tmp_path)}
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    result = subprocess.run(
        [sys.executable, "-c", _BLOCK.format(blocked=sorted(blocked), target=target)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout))


def test_the_deployment_imports_nothing_of_the_control_plane(tmp_path: Path) -> None:
    """`services.app` loads with `provider` and the local-stack tooling refused, and without
    any optional library: serving needs none of them."""
    modules = _loaded(
        "services.app", blocked={"provider", "local_stack", *OPTIONAL}, tmp_path=tmp_path
    )
    assert "services.app" in modules
    top = {name.split(".")[0] for name in modules}
    assert not top & {"provider", "local_stack", *OPTIONAL}


def test_the_control_plane_loads_only_the_contract_of_the_deployment(tmp_path: Path) -> None:
    """Importing the providers loads `services.contract` and nothing else of `services`, and
    no restate-sdk."""
    modules = _loaded(
        "provider, provider.restate, provider.mock, provider.stepfunctions, provider.config",
        blocked={"restate", "hypercorn"},
        tmp_path=tmp_path,
    )
    assert {m for m in modules if m.split(".")[0] == "services"} == {
        "services",
        "services.contract",
    }


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code (relative ones resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            found.add(module)
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _sources("services"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_deployment_module_imports_the_control_plane(path: Path) -> None:
    """Not even lazily, inside a function."""
    assert not {m for m in _imports(path) if m.split(".")[0] in ("provider", "local_stack")}


CLI_IN_PROCESS = {
    "provider/cli/serve_cmd.py": {
        "services.serving",
        "services.settings",
        "services.app",
        "services.logs",
    },
    "provider/cli/config_cmd.py": {"services.settings"},
}
"""The CLI may serve the deployment in this process (logging as the deployment does), and
document its settings (lazily)."""


@pytest.mark.parametrize("path", _sources("provider"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_control_plane_imports_only_the_contract(path: Path) -> None:
    allowed = {"services.contract", *CLI_IN_PROCESS.get(str(path.relative_to(ROOT)), set())}
    assert {m for m in _imports(path) if m.split(".")[0] == "services"} <= allowed
