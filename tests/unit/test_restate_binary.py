"""local_stack.install (cache reuse, npm install, failures) and LocalRestateServer start-up
failures, with fake executables: no network, no real restate-server."""

from __future__ import annotations

import socket
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from local_stack import (
    RESTATE_SERVER_VERSION,
    LocalRestateServer,
    RestateServerInstallError,
    RestateServerStartError,
    ensure_restate_server,
)
from local_stack import __main__ as restate_main
from local_stack.install import (
    binary_version,
    cached_binary_path,
    default_cache_dir,
    platform_package,
)

VERSION = RESTATE_SERVER_VERSION


def write_executable(path: Path, text: str) -> Path:
    """Write an executable script (dedented) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    path.chmod(0o755)
    return path


def fake_server_script(version_line: str) -> str:
    """A stand-in restate-server that only answers --version."""
    return f"""
        #!/bin/sh
        echo "{version_line}"
    """


def install_fake_npm(
    bin_dir: Path,
    *,
    record: Path,
    version_line: str = f"restate-server {VERSION}",
    exit_code: int = 0,
    stderr: str = "",
    slow: bool = False,
) -> None:
    """Put an ``npm`` on ``bin_dir`` that records its arguments and imitates ``npm install``.

    On success it lays out ``<prefix>/node_modules/<package>/bin/restate-server`` like the real
    package, with a binary printing ``version_line``.
    """
    write_executable(
        bin_dir / "npm",
        f"""
        #!{sys.executable}
        import pathlib, sys, time
        args = sys.argv[1:]
        with open({str(record)!r}, "a") as handle:
            handle.write(" ".join(args) + "\\n")
        if {slow!r}:
            time.sleep(0.5)  # widen the window in which a second installer would race
        if {exit_code!r}:
            sys.stderr.write({stderr!r})
            sys.exit({exit_code!r})
        prefix = pathlib.Path(args[args.index("--prefix") + 1])
        package = args[-1].rsplit("@", 1)[0]
        binary = prefix / "node_modules" / package / "bin" / "restate-server"
        binary.parent.mkdir(parents=True)
        binary.write_text('#!/bin/sh\\necho "{version_line}"\\n')
        binary.chmod(0o644)  # the installer must make it executable itself
        """,
    )


def npm_calls(record: Path) -> list[str]:
    """Argument lines the fake npm recorded."""
    return record.read_text().splitlines() if record.exists() else []


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory that is the whole PATH (so the real npm is never found)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


# -- cache location and platform -------------------------------------------------------------


def test_default_cache_dir_prefers_override(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LANDLORD_RESTATE_CACHE", str(tmp_path / "override"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "override"


def test_default_cache_dir_uses_xdg_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LANDLORD_RESTATE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "landlord-restate"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "landlord-restate"


@pytest.mark.parametrize(
    ("system", "machine", "package"),
    [
        ("Linux", "x86_64", "@restatedev/restate-server-linux-x64"),
        ("Linux", "aarch64", "@restatedev/restate-server-linux-arm64"),
        ("Darwin", "x86_64", "@restatedev/restate-server-darwin-x64"),
        ("Darwin", "arm64", "@restatedev/restate-server-darwin-arm64"),
    ],
)
def test_platform_package(system: str, machine: str, package: str) -> None:
    assert platform_package(system=system, machine=machine) == package


def test_unsupported_platform_is_a_clear_error() -> None:
    with pytest.raises(RestateServerInstallError, match=r"no restate-server npm package.*Windows"):
        platform_package(system="Windows", machine="AMD64")


# -- reuse and install -----------------------------------------------------------------------


def test_cached_binary_of_right_version_is_reused_without_npm(fake_path: Path, cache: Path) -> None:
    record = fake_path.parent / "npm-calls"
    install_fake_npm(fake_path, record=record, exit_code=1, stderr="must not run\n")
    cached = write_executable(
        cached_binary_path(version=VERSION, cache_dir=cache),
        fake_server_script(f"restate-server {VERSION}"),
    )

    assert ensure_restate_server(cache_dir=cache) == cached
    assert npm_calls(record) == []


def test_wrong_cached_version_triggers_install(fake_path: Path, cache: Path) -> None:
    record = fake_path.parent / "npm-calls"
    install_fake_npm(fake_path, record=record)
    write_executable(
        cached_binary_path(version=VERSION, cache_dir=cache),
        fake_server_script("restate-server 1.0.0"),
    )
    messages: list[str] = []

    path = ensure_restate_server(cache_dir=cache, log=messages.append)

    assert path == cached_binary_path(version=VERSION, cache_dir=cache)
    assert binary_version(path) == f"restate-server {VERSION}"
    [call] = npm_calls(record)
    assert call.startswith("install --prefix ")
    for flag in ("--no-save", "--no-audit", "--no-fund", "--no-package-lock", "--ignore-scripts"):
        assert flag in call.split()
    assert call.endswith(f" {platform_package()}@{VERSION}")
    assert any("reinstalling" in message for message in messages)
    assert any(f"installing restate-server {VERSION} from the npm registry" in m for m in messages)
    # Nothing half-finished is left next to the installed copy.
    assert sorted(p.name for p in cache.iterdir()) == [".install.lock", f"restate-server-{VERSION}"]


def test_fresh_install_then_reuse(fake_path: Path, cache: Path) -> None:
    record = fake_path.parent / "npm-calls"
    install_fake_npm(fake_path, record=record)

    first = ensure_restate_server(cache_dir=cache)
    second = ensure_restate_server(cache_dir=cache)

    assert first == second
    assert len(npm_calls(record)) == 1


def test_npm_missing_is_an_actionable_error(fake_path: Path, cache: Path) -> None:
    with pytest.raises(RestateServerInstallError) as caught:
        ensure_restate_server(cache_dir=cache)
    message = str(caught.value)
    assert "npm not found" in message
    assert "install Node.js and npm" in message
    assert "apt-get install npm" in message
    assert "\n" not in message


def test_npm_failure_reports_its_last_stderr_line(fake_path: Path, cache: Path) -> None:
    record = fake_path.parent / "npm-calls"
    install_fake_npm(
        fake_path,
        record=record,
        exit_code=1,
        stderr=(
            "npm error code E404\n"
            "npm error 404 Not Found - GET https://registry.npmjs.org/@restatedev%2fnope\n"
            "npm error A complete log of this run can be found in: /root/.npm/_logs/x.log\n\n"
        ),
    )
    with pytest.raises(RestateServerInstallError) as caught:
        ensure_restate_server(cache_dir=cache)
    message = str(caught.value)
    assert "failed (exit 1)" in message
    assert message.endswith(
        "npm error A complete log of this run can be found in: /root/.npm/_logs/x.log"
    )
    assert "\n" not in message
    assert not cached_binary_path(version=VERSION, cache_dir=cache).exists()
    assert not list(cache.glob(".install-*"))


def test_installed_binary_of_wrong_version_is_rejected_and_not_kept(
    fake_path: Path, cache: Path
) -> None:
    record = fake_path.parent / "npm-calls"
    install_fake_npm(fake_path, record=record, version_line="restate-server 9.9.9")
    with pytest.raises(RestateServerInstallError, match=r"reporting 'restate-server 9.9.9'"):
        ensure_restate_server(cache_dir=cache)
    assert not cached_binary_path(version=VERSION, cache_dir=cache).exists()
    assert not list(cache.glob(".install-*"))


def test_concurrent_callers_install_once(fake_path: Path, cache: Path) -> None:
    record = fake_path.parent / "npm-calls"
    install_fake_npm(fake_path, record=record, slow=True)
    results: list[Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(ensure_restate_server(cache_dir=cache))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert results == [cached_binary_path(version=VERSION, cache_dir=cache)] * 3
    assert len(npm_calls(record)) == 1


def test_main_prints_path_and_exits_zero(
    fake_path: Path,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LANDLORD_RESTATE_CACHE", str(cache))
    install_fake_npm(fake_path, record=fake_path.parent / "npm-calls")

    assert restate_main.main([]) == 0

    out, err = capsys.readouterr()
    assert out == f"{cached_binary_path(version=VERSION, cache_dir=cache)}\n"
    assert "installing restate-server" in err


def test_main_failure_is_one_line_and_exit_one(
    fake_path: Path,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LANDLORD_RESTATE_CACHE", str(cache))

    assert restate_main.main([]) == 1

    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: npm not found")
    assert err.count("\n") == 1


# -- LocalRestateServer start-up failures ----------------------------------------------------


def test_server_that_exits_at_once_raises_with_its_output(tmp_path: Path) -> None:
    fake = write_executable(
        tmp_path / "restate-server",
        """
        #!/bin/sh
        echo "starting fake server"
        echo "boom: cannot open the data directory" >&2
        exit 3
        """,
    )
    server = LocalRestateServer(binary=fake, data_dir=tmp_path / "data")

    with pytest.raises(RestateServerStartError) as caught:
        server.start(timeout=30)

    message = str(caught.value)
    assert "exited with code 3" in message
    assert "starting fake server" in message
    assert "boom: cannot open the data directory" in message
    assert not server.running
    assert server.pid is None
    server.stop()  # idempotent after a failed start


def test_server_that_never_gets_ready_times_out_and_is_killed(tmp_path: Path) -> None:
    fake = write_executable(
        tmp_path / "restate-server",
        """
        #!/bin/sh
        echo "pretending to start"
        exec sleep 300
        """,
    )
    server = LocalRestateServer(binary=fake, data_dir=tmp_path / "data")

    with pytest.raises(RestateServerStartError, match=r"not ready after 1s") as caught:
        server.start(timeout=1)

    assert "pretending to start" in str(caught.value)
    assert not server.running


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    fake = write_executable(tmp_path / "restate-server", fake_server_script("unused"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = LocalRestateServer(binary=fake, data_dir=tmp_path / "data", admin_port=port)
        with pytest.raises(RestateServerStartError, match=rf"admin port {port} .* already in use"):
            server.start(timeout=5)
    assert not server.running


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    server = LocalRestateServer(binary=tmp_path / "nope", data_dir=tmp_path / "data")
    with pytest.raises(RestateServerStartError, match="binary not found"):
        server.start()


def test_environment_carries_ports_and_drops_inherited_restate_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESTATE_CONFIG", "/somewhere/else.toml")
    monkeypatch.setenv("RUST_LOG", "trace")
    server = LocalRestateServer(
        binary=tmp_path / "restate-server",
        data_dir=tmp_path / "data",
        ingress_port=18080,
        admin_port=19070,
        node_port=15122,
        partitions=3,
        extra_env={"RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT": "0s"},
    )
    env = server._environment()

    assert env["RESTATE_INGRESS__BIND_ADDRESS"] == "127.0.0.1:18080"
    assert env["RESTATE_ADMIN__BIND_ADDRESS"] == "127.0.0.1:19070"
    assert env["RESTATE_BIND_ADDRESS"] == "127.0.0.1:15122"
    assert env["RESTATE_DEFAULT_NUM_PARTITIONS"] == "3"
    assert env["RESTATE_DISABLE_TELEMETRY"] == "true"
    assert env["RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT"] == "0s"
    assert "RESTATE_CONFIG" not in env
    assert "RUST_LOG" not in env
    assert server.ingress_url == "http://127.0.0.1:18080"
    assert server.admin_url == "http://127.0.0.1:19070"
    assert server.node_url == "http://127.0.0.1:15122"
    assert server.log_path == tmp_path / "data" / "restate-server.log"
