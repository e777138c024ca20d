from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import structlog

from sealing import KEYRING_ENV, Keyring

pytest_plugins = ["tests.servers"]


def pytest_configure(config: pytest.Config) -> None:
    """Both sides hold the same secrets keyring, as every deploy recipe sets up: the control
    plane here and the services each test starts (they inherit this environment)."""
    os.environ.setdefault(KEYRING_ENV, Keyring.new_entry("test-1"))


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Commands configure structlog globally; give every test the defaults back afterwards."""
    yield
    structlog.reset_defaults()
