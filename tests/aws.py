"""Fake AWS for the unit tests: credentials and a region that exist nowhere, nothing read
from the real environment, moto intercepting every call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto import mock_aws

_FROM_THE_REAL_ENVIRONMENT = ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE")


@contextmanager
def fake_aws(
    monkeypatch: pytest.MonkeyPatch,
    *,
    region: str,
    unset: Iterable[str] = (),
    config: Any = None,
) -> Iterator[None]:
    """moto in `region` (set only as `AWS_DEFAULT_REGION`), with fake credentials; `unset`
    names more variables to clear, `config` is moto's."""
    for name in (*_FROM_THE_REAL_ENVIRONMENT, *unset):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with mock_aws(config=config) if config is not None else mock_aws():
        yield
