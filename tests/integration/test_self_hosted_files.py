"""The self-hosted recipe's files checked against the real programs: every restate.toml key is
one restate-server 1.7.12 applies, the units pass `systemd-analyze verify` and name real
commands and flags, each cluster node's environment makes exactly one node provision, and
make-identity-key.sh prints the key id restate-server itself logs for the PEM it wrote."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack import LocalRestateServer
from provider import parse_duration

from .self_hosted import (
    CLUSTER_TOML,
    DEPLOY_DIR,
    INSTALLED_LANDLORD,
    INSTALLED_PYTHON,
    INSTALLED_RESTATE_SERVER,
    KEY_SCRIPT,
    LANDLORD_ENV,
    NODE_ENV_FILES,
    PEM_FILE_ENV,
    SINGLE_NODE_TOML,
    UNITS,
    exec_start,
    installed,
    landlord_cli,
    make_identity_key,
    read_env_file,
    read_unit,
    wait_for_logged_key,
)

DUMP_TIMEOUT_SECONDS = 60.0
LOGGED_KEY_SECONDS = 30.0


def _leaves(table: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) for every non-table value of a parsed TOML document."""
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _lookup(table: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted key, or KeyError naming the missing part."""
    node: Any = table
    for part in dotted.split("."):
        node = node[part]
    return node


def _clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without RESTATE_* (which would reconfigure the server)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("RESTATE_")}
    return env | extra


def _dump_config(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """What restate-server would run with: `command --dump-config`, parsed."""
    done = subprocess.run(
        [*command, "--dump-config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=DUMP_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, f"{command} --dump-config failed:\n{done.stderr}"
    return tomllib.loads(done.stdout)


def _restate_command(restate_binary: Path, config: Path) -> list[str]:
    """restate-server.service's ExecStart, with this machine's binary and `config`."""
    command = installed(exec_start("restate-server.service"), restate_binary=restate_binary)
    at = command.index("--config-file")
    command[at + 1] = str(config)
    return command


# -- restate.toml keys -------------------------------------------------------------------------


@pytest.mark.parametrize("config", [SINGLE_NODE_TOML, CLUSTER_TOML], ids=lambda p: p.name)
def test_every_config_key_is_applied_by_the_server(restate_binary: Path, config: Path) -> None:
    """restate-server ignores unknown keys silently: each key of ours must come back from
    --dump-config with our value (a misspelt or renamed key would not)."""
    ours = tomllib.loads(config.read_text(encoding="utf-8"))
    dumped = _dump_config([str(restate_binary), "--config-file", str(config)], _clean_env())
    problems = []
    for key, value in _leaves(ours):
        try:
            applied = _lookup(dumped, key)
        except KeyError:
            problems.append(f"{key}: not in the server's configuration (unknown key?)")
            continue
        if applied != value:
            problems.append(f"{key}: ours {value!r}, the server's {applied!r}")
    assert not problems, "\n".join(problems)


def test_the_single_node_config_provisions_itself(restate_binary: Path) -> None:
    """The unit's --production turns auto-provision off by default; restate.toml turns it on,
    with replication 1, the replicated log and the identity key."""
    dumped = _dump_config(_restate_command(restate_binary, SINGLE_NODE_TOML), _clean_env())
    assert dumped["auto-provision"] is True
    assert dumped["default-replication"] == 1
    assert dumped["bifrost"]["default-provider"] == "replicated"
    assert dumped["metadata-client"]["type"] == "replicated"
    assert dumped["worker"]["invoker"]["request-identity-private-key-pem-file"]


def test_cluster_nodes_differ_by_their_env_and_one_provisions(restate_binary: Path) -> None:
    """Unit command + shared toml + node-N.env: distinct names and addresses, all in the
    metadata addresses, same cluster and replication 2, and exactly node 1 auto-provisions."""
    command = _restate_command(restate_binary, CLUSTER_TOML)
    nodes = [_dump_config(command, _clean_env(**read_env_file(path))) for path in NODE_ENV_FILES]
    assert [node["node-name"] for node in nodes] == ["restate-1", "restate-2", "restate-3"]
    assert [node["auto-provision"] for node in nodes] == [True, False, False]
    advertised = [node["advertised-address"] for node in nodes]
    assert len(set(advertised)) == 3, advertised
    for node in nodes:
        assert node["cluster-name"] == nodes[0]["cluster-name"]
        assert node["default-replication"] == 2
        assert node["bifrost"]["default-provider"] == "replicated"
        assert node["metadata-client"]["type"] == "replicated"
        assert sorted(node["metadata-client"]["addresses"]) == sorted(advertised)
        assert set(node["roles"]) >= {"metadata-server", "log-server", "worker", "admin"}
        pem = node["worker"]["invoker"]["request-identity-private-key-pem-file"]
        assert pem == nodes[0]["worker"]["invoker"]["request-identity-private-key-pem-file"]


# -- systemd units ---------------------------------------------------------------------------


def test_units_pass_systemd_analyze_verify(restate_binary: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` (offline; no systemd as PID 1 needed) finds nothing wrong once
    the programs are where the units say (here: this machine's paths substituted)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    for unit in UNITS:
        text = (DEPLOY_DIR / unit).read_text(encoding="utf-8")
        text = text.replace(INSTALLED_RESTATE_SERVER, str(restate_binary))
        text = text.replace(INSTALLED_LANDLORD, str(landlord_cli()))
        text = text.replace(INSTALLED_PYTHON, sys.executable)
        (tmp_path / unit).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", "--man=no", *(str(tmp_path / unit) for unit in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    ours = [line for line in output.splitlines() if any(unit in line for unit in UNITS)]
    assert done.returncode == 0, output
    assert not ours, "\n".join(ours)


@pytest.mark.parametrize("unit", ["landlord-services.service", "landlord-controller.service"])
def test_landlord_units_run_real_commands(unit: str, restate_binary: Path) -> None:
    """The unit's command and flags exist: it accepts them with --help (an unknown command
    or option is an error before --help is honoured)."""
    command = installed(exec_start(unit), restate_binary=restate_binary)
    done = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"


def test_units_are_hardened_and_consistent() -> None:
    """Non-root users, hardening, restart policy; the controller is a long-running service
    (restarted on failure) listening on the host only; both landlord units read landlord.env,
    which sets what they need."""
    for unit in UNITS:
        service = read_unit(unit)["Service"]
        assert service.get("User") not in (None, "", "root", "0"), unit
        assert service.get("NoNewPrivileges") == "yes", unit
        assert service.get("ProtectSystem") == "strict", unit
        assert service.get("CapabilityBoundingSet") == "", unit
    for unit in ("restate-server.service", "landlord-services.service"):
        assert read_unit(unit)["Service"]["Restart"] == "on-failure", unit
    controller = read_unit("landlord-controller.service")["Service"]
    assert controller["Type"] == "simple"
    assert controller["Restart"] == "on-failure"
    command = exec_start("landlord-controller.service")
    assert command[1:3] == ["controller", "--bind"], command
    assert command[3].startswith("127.0.0.1:"), "the endpoints stay on the host"
    assert parse_duration(controller["TimeoutStopSec"] + "s").total_seconds() >= 10
    env_files = {
        read_unit(unit)["Service"]["EnvironmentFile"]
        for unit in ("landlord-services.service", "landlord-controller.service")
    }
    assert env_files == {"/etc/landlord/landlord.env"}
    recipe = read_env_file(LANDLORD_ENV)
    assert recipe["LANDLORD_WORKFLOW_RESTATE_EXECUTION_MECHANISM"] == "self-hosted"
    for name in (
        "LANDLORD_SERVICES_IDENTITY_KEYS",
        "LANDLORD_WORKFLOW_RESTATE_ENDPOINT",
        "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT",
        "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI",
    ):
        assert recipe.get(name), name


# -- make-identity-key.sh ----------------------------------------------------------------------


def test_key_script_prints_the_id_restate_logs_for_its_pem(
    restate_binary: Path, tmp_path: Path
) -> None:
    """The printed id is the one restate-server (the single-node restate.toml, booted for real)
    logs when it loads the PEM: the pair matches. The PEM is private (0600)."""
    pem = tmp_path / "request-identity.pem"
    printed = make_identity_key(pem)
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert pem.read_text(encoding="ascii").startswith("-----BEGIN PRIVATE KEY-----")
    server = LocalRestateServer(
        binary=restate_binary,
        data_dir=tmp_path / "restate",
        partitions=1,
        extra_env={"RESTATE_CONFIG": str(SINGLE_NODE_TOML), PEM_FILE_ENV: str(pem)},
    )
    server.start()
    try:
        logged = wait_for_logged_key(server, timeout=LOGGED_KEY_SECONDS)
    finally:
        server.stop()
    assert logged == printed


def test_key_script_refuses_to_overwrite(tmp_path: Path) -> None:
    """A second run on the same path fails and leaves the key as it was; no temp files remain."""
    pem = tmp_path / "request-identity.pem"
    make_identity_key(pem)
    before = pem.read_bytes()
    again = subprocess.run(
        ["/bin/sh", str(KEY_SCRIPT), str(pem)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert again.returncode != 0
    assert "refusing to overwrite" in again.stderr
    assert again.stdout == ""
    assert pem.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == [pem.name]


def test_key_script_needs_exactly_one_path() -> None:
    """Without a path it prints its usage and exits 2."""
    done = subprocess.run(
        ["/bin/sh", str(KEY_SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr
