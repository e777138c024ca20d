from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from provider import Provider
from tests.servers import AsgiProcess

from .targets import TARGETS, ContractTarget


@pytest.fixture(params=TARGETS, ids=lambda target: target.name)
def target(request: pytest.FixtureRequest) -> ContractTarget:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def contract_app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The contract workflows served under hypercorn for the whole session."""
    process = AsgiProcess(
        app_ref="tests.integration.apps.contract:app", work_dir=tmp_path_factory.mktemp("contract")
    )
    process.start()
    try:
        yield process.url
    finally:
        process.stop()


@pytest.fixture
async def provider(
    target: ContractTarget, request: pytest.FixtureRequest
) -> AsyncIterator[Provider]:
    async with target.open(request) as opened:
        yield opened
