"""What the control plane and the deployment must agree on, spelled once: the names of the
services' internal objects and the state keys the provider reads through the admin API."""

from __future__ import annotations

__all__ = [
    "DEADLINE_FIRED_KEY",
    "DEADLINE_HANDLER",
    "DEADLINE_SERVICE",
    "INPUT_DIGEST_HEADER",
    "LOCK_HOLDER_KEY",
    "LOCK_SERVICE",
]

DEADLINE_SERVICE = "ExecutionDeadline"
"""The workflow that keeps any execution's deadline, keyed by the execution's invocation id."""
DEADLINE_HANDLER = "watch"
DEADLINE_FIRED_KEY = "fired"
"""Set (to the timeout, e.g. "30m") when the deadline passed first and the execution was
cancelled: an execution cancelled with this mark timed out."""

LOCK_SERVICE = "TenantLock"
LOCK_HOLDER_KEY = "holder"
"""The execution name holding the tenant (absent: the tenant is free)."""

INPUT_DIGEST_HEADER = "x-landlord-input-sha256"
"""Sent with every start: the digest of the input the caller gave (before the provider added
anything), so a retried start is compared with what was sent, not with a rebuilt body."""
