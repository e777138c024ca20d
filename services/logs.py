"""Logging for handlers: the project's structlog setup, silent while Restate replays."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import structlog
from restate.server_context import restate_context_is_replaying

from telemetry import configure_logging

from .settings import ServicesSettings

__all__ = ["configure", "drop_during_replay"]


def drop_during_replay(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: a replayed step already logged its line the first time."""
    if restate_context_is_replaying.get():
        raise structlog.DropEvent
    return event_dict


def configure(settings: ServicesSettings) -> None:
    """Configure logging for the services process."""
    configure_logging(
        level=settings.log_level, fmt=settings.log_format, extra_processors=[drop_during_replay]
    )
