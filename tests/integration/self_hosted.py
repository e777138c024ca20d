"""Helpers for the tests of the self-hosted recipe (deploy/self-hosted): read its systemd units,
environment files and configs, and run what they say re-pointed at loopback and temp dirs."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from local_stack import LocalRestateServer
from tests.servers import REPO_ROOT

DEPLOY_DIR = REPO_ROOT / "deploy" / "self-hosted"
CLUSTER_DIR = DEPLOY_DIR / "cluster"
SINGLE_NODE_TOML = DEPLOY_DIR / "restate.toml"
CLUSTER_TOML = CLUSTER_DIR / "restate-node.toml"
LANDLORD_ENV = DEPLOY_DIR / "landlord.env"
KEY_SCRIPT = DEPLOY_DIR / "make-identity-key.sh"
UNITS = ("restate-server.service", "landlord-services.service", "landlord-controller.service")
NODE_ENV_FILES = tuple(CLUSTER_DIR / f"node-{n}.env" for n in (1, 2, 3))

# Where the units expect the programs (docs/self-hosted.md installs them there).
INSTALLED_RESTATE_SERVER = "/usr/local/bin/restate-server"
INSTALLED_LANDLORD = "/opt/landlord/venv/bin/landlord-restate"
INSTALLED_PYTHON = "/opt/landlord/venv/bin/python"

PEM_FILE_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"
KEY_ID = re.compile(r"^publickeyv1_[1-9A-HJ-NP-Za-km-z]{32,44}$")

# Pretty/compact log lines: ... Loaded request identity key kid="publickeyv1_…"  (or kid: "…")
_PRETTY_KEY = re.compile(r'Loaded request identity key\s+kid[:=]\s*"(publickeyv1_[1-9A-Za-z]+)"')


def landlord_cli() -> Path:
    """The `landlord-restate` console script of the running virtualenv."""
    return Path(sys.executable).with_name("landlord-restate")


def read_unit(name: str) -> configparser.ConfigParser:
    """A unit file of the recipe, parsed like an INI file (keys keep their case)."""
    parser = configparser.ConfigParser(strict=True, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY_DIR / name).read_text(encoding="utf-8"), source=name)
    return parser


def exec_start(name: str) -> list[str]:
    """The unit's ExecStart command line, split like systemd does (no shell)."""
    return shlex.split(read_unit(name)["Service"]["ExecStart"])


def unit_environment(name: str) -> dict[str, str]:
    """The variables of the unit's `Environment=` line (empty if it has none)."""
    line = read_unit(name)["Service"].get("Environment", "")
    return dict(item.split("=", 1) for item in shlex.split(line))


def read_env_file(path: Path) -> dict[str, str]:
    """A systemd EnvironmentFile: KEY=value lines; '#' and ';' lines are comments."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise ValueError(f"{path.name}:{number}: not KEY=value: {raw!r}")
        values[name.strip()] = value.strip()
    return values


def installed(command: list[str], *, restate_binary: Path) -> list[str]:
    """A unit's command with the installed program paths replaced by this machine's."""
    programs = {
        INSTALLED_RESTATE_SERVER: str(restate_binary),
        INSTALLED_LANDLORD: str(landlord_cli()),
        INSTALLED_PYTHON: sys.executable,
    }
    if command[0] not in programs:
        raise AssertionError(f"unexpected program in ExecStart: {command[0]}")
    return [programs[command[0]], *command[1:]]


def make_identity_key(pem_path: Path) -> str:
    """Run make-identity-key.sh for `pem_path`; return the id it printed (stdout)."""
    done = subprocess.run(
        ["/bin/sh", str(KEY_SCRIPT), str(pem_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"make-identity-key.sh failed ({done.returncode}): {done.stderr}"
    key_id = done.stdout.strip()
    assert KEY_ID.fullmatch(key_id), f"not a key id: {done.stdout!r} (stderr: {done.stderr})"
    return key_id


def logged_key_ids(log_text: str) -> set[str]:
    """Every `kid` restate-server logged as "Loaded request identity key" (JSON or text logs)."""
    found: set[str] = set(_PRETTY_KEY.findall(log_text))
    for line in log_text.splitlines():
        if not line.startswith("{") or "Loaded request identity key" not in line:
            continue
        try:
            fields = json.loads(line).get("fields", {})
        except ValueError:
            continue
        if fields.get("message") == "Loaded request identity key" and fields.get("kid"):
            found.add(str(fields["kid"]))
    return found


def wait_for_logged_key(server: LocalRestateServer, *, timeout: float) -> str:
    """The one key id the server logs once it has loaded its private key (fails otherwise)."""
    deadline = time.monotonic() + timeout
    while True:
        keys = logged_key_ids(server.log_text())
        if keys:
            assert len(keys) == 1, f"server logged several identity keys: {keys}"
            return keys.pop()
        if time.monotonic() >= deadline:
            pytest.fail(
                f"restate-server logged no request identity key within {timeout:.0f}s:\n"
                f"{server.log_text(tail=40)}"
            )
        time.sleep(0.05)


def active_partition_leaders(server: LocalRestateServer, client: httpx.Client) -> int | None:
    """How many partitions this node leads now (its Prometheus gauge); None if unreachable."""
    try:
        response = client.get(f"{server.node_url}/metrics")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    match = re.search(
        r"^restate_num_active_partition_leaders\{[^}]*\} (\d+)", response.text, re.MULTILINE
    )
    return int(match.group(1)) if match else 0
