"""The container tier (`make test-containers`): a Docker engine, started here when none runs,
and the images the tests need, all built on this machine. Every test here is marked
`containers`; without an engine they are skipped with the reason."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.containers.engine import Engine, EngineUnavailableError, ensure_engine
from tests.containers.images import (
    ImageBuildError,
    base_image,
    control_image,
    restate_image,
    services_image,
)

HERE = Path(__file__).parent


SETUP_TIMEOUT_SECONDS = 900
"""The first test also waits for the engine and the image builds (minutes on vfs storage)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.containers)
            item.add_marker(pytest.mark.timeout(SETUP_TIMEOUT_SECONDS))


@pytest.fixture(scope="session")
def say(pytestconfig: pytest.Config) -> Callable[[str], None]:
    """Progress lines for the long set-up, shown as they happen (not held by capture)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def write(message: str) -> None:
        with capture.global_and_fixture_disabled():
            sys.stderr.write(f"[container tier] {message}\n")
            sys.stderr.flush()

    return write


@pytest.fixture(scope="session")
def engine(
    tmp_path_factory: pytest.TempPathFactory, say: Callable[[str], None]
) -> Iterator[Engine]:
    """A Docker engine for the session (DOCKER_HOST points at it), or skip saying why."""
    try:
        found = ensure_engine(say=say)
    except EngineUnavailableError as error:
        pytest.skip(f"container tier skipped: no Docker engine could be started: {error}")
    with pytest.MonkeyPatch.context() as patch:
        if found.host.startswith("unix://"):
            patch.setenv("DOCKER_HOST", found.host)
        try:
            yield found
        finally:
            found.stop()


@dataclass(frozen=True)
class Images:
    base: str
    restate: str
    services: str
    control: str


@pytest.fixture(scope="session")
def images(engine: Engine, restate_binary: Path, say: Callable[[str], None]) -> Images:
    """The base, Restate, services and control images (made once; base and Restate kept
    between runs)."""
    try:
        base = base_image(engine.client, say=say)
        return Images(
            base=base,
            restate=restate_image(engine.client, binary=restate_binary, say=say),
            services=services_image(engine.client, base=base, say=say),
            control=control_image(engine.client, base=base, say=say),
        )
    except EngineUnavailableError as error:  # no root for debootstrap: as plain as no engine
        pytest.skip(f"container tier skipped: cannot make the base image: {error}")
    except ImageBuildError as error:
        pytest.fail(str(error), pytrace=False)
