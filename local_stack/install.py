"""Get a pinned restate-server binary: reuse the per-user cache or install it from the npm registry.

The npm package ``@restatedev/restate-server-<os>-<arch>`` ships the static server binary; it is
installed into a temporary directory inside the cache, its version is checked, and only then is
it renamed into place, so a half-finished download is never reused. An fcntl lock keeps two
processes (make and pytest, parallel test sessions) from installing at the same time.

``python -m provider.restate`` installs it if needed and prints the binary's path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = [
    "RESTATE_SERVER_VERSION",
    "RestateServerInstallError",
    "binary_version",
    "cached_binary_path",
    "default_cache_dir",
    "ensure_restate_server",
    "platform_package",
]

RESTATE_SERVER_VERSION = "1.7.12"
"""The restate-server version this project is tested against (tests/integration)."""

CACHE_DIR_ENV = "LANDLORD_RESTATE_CACHE"
"""Environment variable that overrides the cache directory."""

_NPM_TIMEOUT_SECONDS = 900.0
_VERSION_TIMEOUT_SECONDS = 30.0
_PACKAGE_SCOPE = "@restatedev"

# (platform.system(), platform.machine()) -> npm package suffix
_PLATFORMS: dict[tuple[str, str], str] = {
    ("Linux", "x86_64"): "linux-x64",
    ("Linux", "amd64"): "linux-x64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Linux", "arm64"): "linux-arm64",
    ("Darwin", "x86_64"): "darwin-x64",
    ("Darwin", "arm64"): "darwin-arm64",
}


class RestateServerInstallError(RuntimeError):
    """restate-server could not be found or installed; the message says what to do about it."""


def _no_log(_message: str) -> None:
    """Default progress sink: say nothing."""


def default_cache_dir() -> Path:
    """Per-user cache directory for server binaries, outside the repository.

    ``$LANDLORD_RESTATE_CACHE`` if set, else ``${XDG_CACHE_HOME:-~/.cache}/landlord-restate``.
    """
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "landlord-restate"


def platform_package(*, system: str | None = None, machine: str | None = None) -> str:
    """npm package name of the server binary for this (or the given) OS and CPU.

    Raises `RestateServerInstallError` for a platform Restate publishes no binary for.
    """
    system = system if system is not None else platform.system()
    machine = machine if machine is not None else platform.machine()
    suffix = _PLATFORMS.get((system, machine)) or _PLATFORMS.get((system, machine.lower()))
    if suffix is None:
        supported = ", ".join(sorted({f"{s}/{m}" for s, m in _PLATFORMS}))
        raise RestateServerInstallError(
            f"no restate-server npm package for platform {system}/{machine} "
            f"(supported: {supported}); install restate-server yourself"
        )
    return f"{_PACKAGE_SCOPE}/restate-server-{suffix}"


def cached_binary_path(
    *, version: str = RESTATE_SERVER_VERSION, cache_dir: Path | None = None
) -> Path:
    """Where `ensure_restate_server` keeps the binary of ``version`` (it may not exist yet)."""
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    return cache / f"restate-server-{version}" / "bin" / "restate-server"


def binary_version(binary: Path) -> str | None:
    """What ``binary --version`` prints (e.g. ``restate-server 1.7.12``), or None if it fails."""
    try:
        result = subprocess.run(  # noqa: S603 - a path we chose, no shell
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip()


def _expected_version_line(version: str) -> str:
    """The exact ``--version`` output of a good binary."""
    return f"restate-server {version}"


def _is_good(binary: Path, version: str) -> bool:
    """Whether ``binary`` exists and reports exactly ``version``."""
    return binary.is_file() and binary_version(binary) == _expected_version_line(version)


@contextlib.contextmanager
def _install_lock(cache: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive fcntl lock on ``cache/.install.lock`` (released when the process dies)."""
    lock_path = cache / ".install.lock"
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another process installing into {cache} (lock {lock_path})")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _remove_stale_work_dirs(cache: Path) -> None:
    """Delete leftovers of interrupted installs (only lock holders create them)."""
    for leftover in cache.glob(".install-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in cache.glob(".old-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _last_line(text: str) -> str:
    """The last non-blank line of ``text`` ('' if none)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _npm_install(*, npm: str, spec: str, prefix: Path, log: Callable[[str], None]) -> None:
    """Run ``npm install`` of one package into ``prefix`` (no scripts, no lock file, no audit)."""
    command = [
        npm,
        "install",
        "--prefix",
        str(prefix),
        "--no-save",
        "--no-audit",
        "--no-fund",
        "--no-package-lock",
        "--ignore-scripts",
        spec,
    ]
    env = dict(os.environ, npm_config_update_notifier="false")
    try:
        result = subprocess.run(  # noqa: S603 - npm resolved from PATH, fixed arguments
            command,
            capture_output=True,
            text=True,
            timeout=_NPM_TIMEOUT_SECONDS,
            check=False,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise RestateServerInstallError(
            f"`npm install {spec}` did not finish within {_NPM_TIMEOUT_SECONDS:.0f}s; "
            "check network access to the npm registry and retry"
        ) from exc
    except OSError as exc:
        raise RestateServerInstallError(f"could not run {npm}: {exc}") from exc
    if result.returncode != 0:
        detail = _last_line(result.stderr) or _last_line(result.stdout) or "no output"
        raise RestateServerInstallError(
            f"`npm install {spec}` failed (exit {result.returncode}): {detail}"
        )
    log(f"npm installed {spec} into {prefix}")


def _install(*, version: str, cache: Path, target: Path, log: Callable[[str], None]) -> None:
    """Install ``version`` from npm and rename it into ``target.parents[1]`` (lock held)."""
    package = platform_package()
    npm = shutil.which("npm")
    if npm is None:
        raise RestateServerInstallError(
            f"npm not found on PATH, needed to download restate-server {version}: "
            "install Node.js and npm (e.g. `apt-get install npm`) and retry"
        )
    spec = f"{package}@{version}"
    install_root = target.parents[1]  # <cache>/restate-server-<version>
    log(f"installing restate-server {version} from the npm registry ({spec}) into {install_root}")
    work = Path(tempfile.mkdtemp(prefix=f".install-{version}-", dir=cache))
    try:
        _npm_install(npm=npm, spec=spec, prefix=work, log=log)
        package_dir = work / "node_modules" / package
        binary = package_dir / "bin" / "restate-server"
        if not binary.is_file():
            raise RestateServerInstallError(
                f"`npm install {spec}` succeeded but {binary} is missing; "
                "the package layout changed, update provider/restate/binary.py"
            )
        binary.chmod(binary.stat().st_mode | 0o111)
        reported = binary_version(binary)
        if reported != _expected_version_line(version):
            raise RestateServerInstallError(
                f"{spec} installed a binary reporting {reported!r}, expected "
                f"{_expected_version_line(version)!r}; check the npm registry (or its mirror)"
            )
        if install_root.exists():
            # A broken or wrong-version copy: move it aside first, so the rename stays atomic.
            old = Path(tempfile.mkdtemp(prefix=f".old-{version}-", dir=cache))
            install_root.rename(old / install_root.name)
        package_dir.rename(install_root)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        _remove_stale_work_dirs(cache)
    log(f"restate-server {version} installed at {target}")


def ensure_restate_server(
    *,
    version: str = RESTATE_SERVER_VERSION,
    cache_dir: Path | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Return the path of a restate-server binary of exactly ``version``, installing it if needed.

    Reuses ``<cache>/restate-server-<version>/bin/restate-server`` when it reports that version;
    otherwise installs it from the npm registry (needs ``npm``). Raises
    `RestateServerInstallError` with a one-line, actionable message on failure.
    """
    emit = log if log is not None else _no_log
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    target = cached_binary_path(version=version, cache_dir=cache)
    if _is_good(target, version):
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RestateServerInstallError(
            f"cannot create the cache directory {cache}: {exc}; set {CACHE_DIR_ENV} to a "
            "writable directory"
        ) from exc
    with _install_lock(cache, emit):
        if _is_good(target, version):  # another process installed it while we waited
            return target
        if target.exists():
            emit(
                f"cached {target} reports {binary_version(target)!r}, not "
                f"{_expected_version_line(version)!r}; reinstalling"
            )
        _install(version=version, cache=cache, target=target, log=emit)
    if not _is_good(target, version):
        raise RestateServerInstallError(
            f"{target} does not report {_expected_version_line(version)!r} after installing; "
            f"delete {target.parents[1]} and retry"
        )
    return target
