"""Fixtures for tests against a real, pinned restate-server and real ASGI service processes
(a pytest plugin, loaded by tests/conftest.py). A failing test that used the server (or an
ASGI app) gets the process's log tail in its failure report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import httpx
import pytest

import provider.restate
from local_stack import LocalRestateServer, ensure_restate_server
from local_stack.ports import free_port
from local_stack.processes import HttpProcess, HttpProcessError
from services.serving import PRODUCTION_SETTINGS

# provider/restate/__init__.py -> repository root (also right when this file is copied elsewhere,
# e.g. by the pytester test of the failure report).
REPO_ROOT = Path(provider.restate.__file__).resolve().parents[2]

SERVER_LOG_TAIL_LINES = 60
ASGI_LOG_TAIL_LINES = 60
ASGI_START_TIMEOUT_SECONDS = 30.0
ASGI_STOP_TIMEOUT_SECONDS = 3.0  # hypercorn waits on Restate's open connection; then SIGKILL

# hypercorn settings for Restate, as `landlord-restate serve` uses them (a TOML file for
# `python -m hypercorn --config`).
HYPERCORN_CONFIG = "".join(f"{name} = {value}\n" for name, value in PRODUCTION_SETTINGS.items())


# -- restate-server --------------------------------------------------------------------------


def environment_without_settings() -> dict[str, str]:
    """This process's environment minus every LANDLORD_* setting: a command a test runs sees
    only the settings the test gives it."""
    return {name: value for name, value in os.environ.items() if not name.startswith("LANDLORD_")}


@pytest.fixture(scope="session")
def restate_binary() -> Path:
    """The pinned restate-server binary (installed from npm into the user cache on first use)."""

    def progress(message: str) -> None:
        sys.stderr.write(f"[restate-binary] {message}\n")

    return ensure_restate_server(log=progress)


@pytest.fixture(scope="session")
def restate_server(
    restate_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRestateServer]:
    """One started restate-server for the session: free ports, fresh data dir, 1 partition."""
    with LocalRestateServer(
        binary=restate_binary,
        data_dir=tmp_path_factory.mktemp("restate-server"),
        partitions=1,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def own_restate_server(
    restate_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalRestateServer]:
    """A server of the module's own, for tests that need one no other test wrote to (its
    stored workflows and deployments are the module's alone)."""
    with LocalRestateServer(
        binary=restate_binary, data_dir=tmp_path_factory.mktemp("own-restate")
    ) as server:
        yield server


def register_deployment(server: LocalRestateServer, uri: str, **options: object) -> None:
    """Register the deployment at `uri` through the admin API (`options`: `force`,
    `use_http_11`, ...), asserting Restate took it."""
    response = httpx.post(
        f"{server.admin_url}/deployments",
        json={"uri": uri, **options},
        timeout=30.0,
        trust_env=False,
    )
    assert response.status_code in (200, 201), response.text


# -- ASGI apps under hypercorn ---------------------------------------------------------------


class AsgiProcess:
    """``python -m hypercorn <app_ref>`` serving one ASGI app on a free loopback port."""

    def __init__(self, *, app_ref: str, work_dir: Path, env: dict[str, str] | None = None) -> None:
        self.app_ref = app_ref
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_path = work_dir / "hypercorn.toml"
        config_path.write_text(HYPERCORN_CONFIG, encoding="utf-8")
        self.process = HttpProcess(
            name=f"hypercorn {app_ref}",
            command=[
                sys.executable,
                "-m",
                "hypercorn",
                app_ref,
                "--bind",
                f"127.0.0.1:{self.port}",
                "--config",
                str(config_path),
            ],
            url=self.url,
            log_path=work_dir / "hypercorn.log",
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            cwd=REPO_ROOT,
        )

    def start(self, *, timeout: float = ASGI_START_TIMEOUT_SECONDS) -> None:
        """Serve the app (again, after a kill) and wait until ``GET /health`` answers 200."""
        try:
            self.process.start(timeout=timeout)
        except HttpProcessError as error:
            pytest.fail(str(error))

    def kill(self) -> None:
        """SIGKILL the process group at once (a crash)."""
        self.process.kill()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL (hypercorn waits on Restate's open connection otherwise)."""
        self.process.stop(grace=ASGI_STOP_TIMEOUT_SECONDS)

    def log_tail(self, lines: int = ASGI_LOG_TAIL_LINES) -> str:
        """Last ``lines`` lines of hypercorn's output."""
        return self.process.log_tail(lines)


_ASGI_PROCESSES = pytest.StashKey[list[AsgiProcess]]()


@pytest.fixture
def serve_asgi(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., str]]:
    """Factory: ``serve_asgi("pkg.module:app", env=...)`` serves it under hypercorn; returns its
    base URL.

    Processes are stopped when the test ends; their output joins the report of a failed test.
    """
    started: list[AsgiProcess] = []
    request.node.stash[_ASGI_PROCESSES] = started

    def serve(app_ref: str, *, env: dict[str, str] | None = None) -> str:
        process = AsgiProcess(app_ref=app_ref, work_dir=tmp_path_factory.mktemp("asgi"), env=env)
        started.append(process)
        process.start()
        return process.url

    try:
        yield serve
    finally:
        for process in reversed(started):
            process.stop()


# -- failure reports -------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Append the log tail of every LocalRestateServer fixture the failed test used (the session
    ``restate_server`` or a test's own) and its ASGI apps' output to the report."""
    report: pytest.TestReport = yield
    if not report.failed:
        return report
    funcargs: dict[str, object] = getattr(item, "funcargs", {})
    servers = {
        id(value): value for value in funcargs.values() if isinstance(value, LocalRestateServer)
    }
    for server in servers.values():
        report.sections.append(
            (
                f"restate-server log (last {SERVER_LOG_TAIL_LINES} lines of {server.log_path})",
                server.log_text(tail=SERVER_LOG_TAIL_LINES) or "(empty)",
            )
        )
    for value in funcargs.values():
        sections = getattr(value, "report_sections", None)
        if callable(sections):
            report.sections.extend(sections())
    for process in item.stash.get(_ASGI_PROCESSES, []):
        report.sections.append(
            (
                f"hypercorn {process.app_ref} output (last {ASGI_LOG_TAIL_LINES} lines)",
                process.log_tail(),
            )
        )
    return report
