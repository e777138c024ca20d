from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from provider import Provider

from .targets import TARGETS, ContractTarget


@pytest.fixture(params=TARGETS, ids=lambda target: target.name)
def target(request: pytest.FixtureRequest) -> ContractTarget:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def provider(target: ContractTarget) -> AsyncIterator[Provider]:
    async with target.open() as opened:
        yield opened
