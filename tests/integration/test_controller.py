"""`landlord-restate controller` as the deploy recipes run it: a subprocess against a real
restate-server and the services under hypercorn. It registers the tenant workflow once it can
(started before the services, it keeps running and waits), keeps /health current (503 when
the services go away), registers again when Restate lost its data, reports a refusal instead of
crash-looping, and stops on SIGTERM with exit 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from local_stack import LocalRestateServer
from local_stack.ports import free_port
from tests.servers import AsgiProcess, environment_without_settings, register_deployment

SCRIPT = str(Path(sys.executable).with_name("landlord-restate"))
T = TypeVar("T")

_START_SECONDS = 30.0
_STATE_SECONDS = 60.0
_STOP_SECONDS = 10.0
_NOWHERE = "http://127.0.0.1:9"


class ControllerProcess:
    """One `landlord-restate controller` subprocess on a free port, checking every second."""

    def __init__(self, work: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work / "controller.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [SCRIPT, "controller", "--bind", f"127.0.0.1:{self.port}", "--interval", "1s", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> httpx.Response | None:
        """The answer to `GET path`, or None while nothing listens."""
        try:
            return httpx.get(self.url + path, timeout=5.0, trust_env=False)
        except httpx.TransportError:
            return None

    def report(self) -> tuple[int, dict[str, Any]]:
        """`GET /health`: its status and the report."""
        response = self.get("/health")
        assert response is not None, "the controller stopped listening"
        return response.status_code, response.json()

    def stop(self) -> int:
        """SIGTERM; the exit code (SIGKILL, and a failure, when it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the controller did not stop within {_STOP_SECONDS}s of SIGTERM")
        finally:
            self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def report_sections(self) -> list[tuple[str, str]]:
        """Its output, for the report of a failed test (tests/servers.py adds it)."""
        return [("controller output", self.output()[-6000:] or "(empty)")]


class Controllers:
    """Starts controllers for one test and stops whatever is still running at its end."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.started: list[ControllerProcess] = []

    def start(
        self, server: LocalRestateServer | None, services_url: str, *args: str
    ) -> ControllerProcess:
        """A controller for `server` (None: one that is not there) and the services' URL."""
        ingress, admin = (server.ingress_url, server.admin_url) if server else (_NOWHERE,) * 2
        env = environment_without_settings() | {
            "LANDLORD_WORKFLOW_RESTATE_ENDPOINT": ingress,
            "LANDLORD_WORKFLOW_RESTATE_ADMIN_ENDPOINT": admin,
            "LANDLORD_WORKFLOW_RESTATE_DEPLOYMENT_URI": services_url,
            "LANDLORD_WORKFLOW_RESTATE_RETRY_ATTEMPTS": "0",
            "LANDLORD_LOG_FORMAT": "json",
        }
        controller = ControllerProcess(self.work, env, *args)
        self.started.append(controller)
        until(
            lambda: controller.get("/live"), what="the controller to listen", timeout=_START_SECONDS
        )
        return controller

    def report_sections(self) -> list[tuple[str, str]]:
        return [section for c in self.started for section in c.report_sections()]


def until(probe: Callable[[], T | None], *, what: str, timeout: float = _STATE_SECONDS) -> T:
    """Poll `probe` until it returns something truthy, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def _healthy(controller: ControllerProcess) -> dict[str, Any] | None:
    status, report = controller.report()
    return report if status == 200 else None


def _unhealthy(controller: ControllerProcess) -> dict[str, Any] | None:
    status, report = controller.report()
    return report if status == 503 else None


@pytest.fixture
def controllers(tmp_path: Path) -> Iterator[Controllers]:
    started = Controllers(tmp_path)
    yield started
    for controller in started.started:
        controller.stop()


@pytest.fixture
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsgiProcess]:
    """The services under hypercorn, not started yet (each test starts them when it needs)."""
    work = tmp_path_factory.mktemp("controller-services")
    process = AsgiProcess(
        app_ref="services.app:app",
        work_dir=work,
        env={"LANDLORD_SERVICES_STATE_DIR": str(work / "tenants")},
    )
    yield process
    process.stop()


@pytest.fixture
def server(restate_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A fresh server for each test: what is registered in it is the test's doing alone."""
    with LocalRestateServer(
        binary=restate_binary, data_dir=tmp_path_factory.mktemp("controller-restate")
    ) as fresh:
        yield fresh


def test_started_before_the_services_it_waits_registers_and_follows_their_health(
    server: LocalRestateServer, services: AsgiProcess, controllers: Controllers
) -> None:
    controller = controllers.start(server, services.url)

    def registration_failed() -> dict[str, Any] | None:
        report = _unhealthy(controller)
        checks = {c["name"]: c for c in (report or {}).get("checks", [])}
        return report if "registration" in checks and not checks["registration"]["ok"] else None

    waiting = until(registration_failed, what="a failed registration attempt in /health")
    assert waiting["healthy"] is False
    registration = next(c for c in waiting["checks"] if c["name"] == "registration")
    assert services.url in registration["detail"]
    assert controller.process.poll() is None, "it must keep running while the services are down"

    services.start()
    report = until(lambda: _healthy(controller), what="/health 200 once the services are up")
    assert report["workflows"] == {"tenant-provisioning": True}
    checks = {c["name"]: c["ok"] for c in report["checks"]}
    assert checks == {
        "admin API": True,
        "ingress": True,
        "server version": True,
        f"deployment {services.url}": True,
        "registration": True,
    }

    metrics = controller.get("/metrics")
    assert metrics is not None
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE process_cpu_seconds_total counter" in metrics.text

    services.stop()
    gone = until(lambda: _unhealthy(controller), what="/health 503 once the services stopped")
    failing = [c["name"] for c in gone["checks"] if not c["ok"]]
    assert failing == [f"deployment {services.url}"]
    live = controller.get("/live")
    assert live is not None
    assert live.status_code == 200

    started = time.monotonic()
    assert controller.stop() == 0
    assert time.monotonic() - started < 5.0
    lines = [json.loads(line) for line in controller.output().splitlines() if line.startswith("{")]
    registered = [line for line in lines if line["event"] == "registered"]
    assert len(registered) == 1, "the services going away is not a reason to register again"
    assert registered[0]["workflow_id"] == "tenant-provisioning"
    assert registered[0]["admin_url"] == server.admin_url
    assert lines[-1]["event"] == "stopped"


def test_it_registers_again_when_restate_lost_its_data(
    restate_binary: Path,
    tmp_path_factory: pytest.TempPathFactory,
    server: LocalRestateServer,
    services: AsgiProcess,
    controllers: Controllers,
) -> None:
    services.start()
    controller = controllers.start(server, services.url)
    until(lambda: _healthy(controller), what="/health 200 with Restate and the services up")

    server.stop()
    until(lambda: _unhealthy(controller), what="/health 503 while Restate is down")
    with LocalRestateServer(
        binary=restate_binary,
        data_dir=tmp_path_factory.mktemp("controller-restate-empty"),
        ingress_port=server.ingress_port,
        admin_port=server.admin_port,
        node_port=server.node_port,
    ):
        report = until(lambda: _healthy(controller), what="/health 200 on the empty server")
        assert report["workflows"] == {"tenant-provisioning": True}
        assert controller.output().count('"event": "registered"') == 2
        assert controller.stop() == 0


def test_a_refusal_is_reported_and_retried_without_crash_looping(
    server: LocalRestateServer, services: AsgiProcess, controllers: Controllers
) -> None:
    """As under the Restate operator: something else registers the services, and until it has,
    storing the workflow is refused; the controller says so in /health and tries again."""
    services.start()
    controller = controllers.start(
        server, services.url, "--workflow.restate.register_deployment=false"
    )

    def refused() -> dict[str, Any] | None:
        report = _unhealthy(controller)
        checks = {c["name"]: c for c in (report or {}).get("checks", [])}
        return checks.get("registration")

    registration = until(refused, what="the refusal in /health")
    assert registration["ok"] is False
    assert "no service 'TenantProvisioning' is registered" in registration["detail"]
    assert controller.process.poll() is None

    register_deployment(server, services.url)  # the operator's part
    report = until(lambda: _healthy(controller), what="/health 200 once the services exist")
    assert report["workflows"] == {"tenant-provisioning": True}
    assert controller.stop() == 0
    assert '"event": "registration refused, retrying each interval"' in controller.output()


def test_with_restate_unreachable_it_stays_live_and_stops_at_once_on_sigterm(
    controllers: Controllers,
) -> None:
    controller = controllers.start(None, _NOWHERE)
    status, first = controller.report()
    assert status == 503  # not checked yet, or checked and failing

    def checked() -> dict[str, Any] | None:
        report = _unhealthy(controller)
        return report if report and report["checks"][0]["name"] != "controller" else None

    report = until(checked, what="the first health check")
    assert first["healthy"] is False
    assert [c["name"] for c in report["checks"] if not c["ok"]][:2] == ["admin API", "ingress"]
    for _ in range(3):
        live = controller.get("/live")
        assert live is not None
        assert live.status_code == 200
    missing = controller.get("/nothing")
    assert missing is not None
    assert missing.status_code == 404
    posted = httpx.post(controller.url + "/health", trust_env=False)
    assert posted.status_code == 405

    started = time.monotonic()  # it is mid-retry, waiting between registration attempts
    assert controller.stop() == 0
    assert time.monotonic() - started < 5.0
