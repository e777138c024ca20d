"""Logging: structlog configured once, JSON for machines, key=value for people at a terminal.

Every line passes through `redact_secrets`, so a secret handed to a logger by mistake is
masked before any renderer sees it.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, Literal, TextIO

import structlog
from opentelemetry import trace
from pydantic import SecretBytes, SecretStr

__all__ = [
    "REDACTED",
    "LogFormat",
    "add_trace_ids",
    "configure_logging",
    "get_logger",
    "redact_secrets",
]

REDACTED = "***"
LogFormat = Literal["auto", "json", "console"]

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|^auth$|credential|private[_-]?key|"
    r"cookie|session[_-]?key|signing[_-]?key|identity[_-]?key)",
    re.IGNORECASE,
)
_CREDENTIAL_IN_TEXT = re.compile(r"(?i)\b(bearer|basic)\s+\S+")
_CLOUD_KEY_IN_TEXT = re.compile(r"\bkey_[A-Za-z0-9]{8,}")


@functools.lru_cache(maxsize=4096)
def _secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def _mask_text(value: str) -> str:
    lowered = value.lower()
    if "bearer" in lowered or "basic" in lowered:
        value = _CREDENTIAL_IN_TEXT.sub(rf"\1 {REDACTED}", value)
    if "key_" in value:
        value = _CLOUD_KEY_IN_TEXT.sub(f"key_{REDACTED}", value)
    return value


def _mask(key: str, value: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        return REDACTED
    if value not in (None, "", False) and _secret_key(key):
        return REDACTED
    if isinstance(value, str):
        return _mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(key, v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask values under secret-looking keys and bearer tokens in text."""
    for key in list(event_dict):
        event_dict[key] = _mask(key, event_dict[key])
    return event_dict


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the current span's `trace_id` and `span_id` (W3C hex), if any, so a
    line joins its trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def _drop(_logger: Any, _method: str, _event_dict: MutableMapping[str, Any]) -> Any:
    raise structlog.DropEvent


def configure_logging(
    *,
    level: str = "info",
    fmt: LogFormat = "auto",
    stream: TextIO | None = None,
    extra_processors: Sequence[structlog.typing.Processor] = (),
) -> None:
    """Configure structlog for the process; call once at program start (calling again resets).

    `auto` renders JSON unless the stream is a terminal. Logs go to stderr by default so that
    a command's stdout stays clean for its output. `extra_processors` run first (e.g. to
    drop events). `level="off"` writes nothing.
    """
    off = level.lower() == "off"
    if off:
        extra_processors = [_drop, *extra_processors]
    out = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            *extra_processors,
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            add_trace_ids,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.CRITICAL if off else logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """A structlog logger tagged with the component name."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(logger_name=name)
    return logger
