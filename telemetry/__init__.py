"""What the deployment and the control plane both emit, configured one way: structured logs
(structlog, JSON for machines, key=value at a terminal) with secrets masked before rendering."""

from .logs import (
    REDACTED,
    LogFormat,
    add_trace_ids,
    configure_logging,
    get_logger,
    redact_secrets,
)

__all__ = [
    "REDACTED",
    "LogFormat",
    "add_trace_ids",
    "configure_logging",
    "get_logger",
    "redact_secrets",
]
