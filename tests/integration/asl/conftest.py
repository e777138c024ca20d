"""The ASL stack: `services.app:app` under hypercorn on the session's restate-server, a
`RestateProvider` for it, a second server that replays at every step, a real HTTP server for
HTTP tasks to call and moto as a server for Lambda tasks (the corpus's echo function): the
services and this process (which runs the corpus in memory) both call it."""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from local_stack import LocalRestateServer
from provider.config import RestateSettings
from provider.restate import RestateProvider
from tests.asl_corpus import ECHO_FUNCTION, REGION
from tests.aws import echo_function, moto_server
from tests.servers import AsgiProcess, register_deployment

from .target import HttpTarget, Target

SERVICES_APP = "services.app:app"


@pytest.fixture(scope="package")
def http_target() -> Iterator[HttpTarget]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield HttpTarget(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()


@pytest.fixture(scope="package")
def aws() -> Iterator[dict[str, str]]:
    """moto as a server holding the corpus's echo function; this process calls it too while
    the package runs. Yields the environment that points a process at it."""
    with moto_server(region=REGION) as environment:
        saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        try:
            echo_function(ECHO_FUNCTION, region_name=REGION)
            yield environment
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _started_services(
    tmp_path_factory: pytest.TempPathFactory, aws: dict[str, str], name: str
) -> AsgiProcess:
    """`services.app:app` under hypercorn, calling moto for Lambda, its tenants of its own."""
    served = AsgiProcess(
        app_ref=SERVICES_APP,
        work_dir=tmp_path_factory.mktemp(name),
        env={**aws, "LANDLORD_SERVICES_STATE_DIR": str(tmp_path_factory.mktemp(f"{name}-tenants"))},
    )
    served.start()
    return served


@pytest.fixture(scope="package")
def services(
    restate_server: LocalRestateServer,
    aws: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AsgiProcess]:
    served = _started_services(tmp_path_factory, aws, "services")
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
async def provider(
    restate_server: LocalRestateServer, services: AsgiProcess
) -> AsyncIterator[RestateProvider]:
    opened = RestateProvider(
        RestateSettings(
            endpoint=restate_server.ingress_url,
            admin_endpoint=restate_server.admin_url,
            deployment_uri=services.url,
            register_on_startup=False,
        )
    )
    try:
        yield opened
    finally:
        await opened.aclose()


@pytest.fixture(scope="package")
def replaying(
    restate_binary: Path, aws: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestateSettings]:
    """A server of its own with the services registered in request-response mode."""
    with LocalRestateServer(
        binary=restate_binary, data_dir=tmp_path_factory.mktemp("replaying"), partitions=1
    ) as server:
        served = _started_services(tmp_path_factory, aws, "replayed-services")
        try:
            register_deployment(server, served.url, use_http_11=True)
            yield RestateSettings(
                endpoint=server.ingress_url,
                admin_endpoint=server.admin_url,
                register_deployment=False,
                register_on_startup=False,
            )
        finally:
            served.stop()
