"""How Restate retries an invocation of the deployment's workflows."""

from __future__ import annotations

from datetime import timedelta

import restate

__all__ = ["INVOCATION_RETRIES"]

INVOCATION_RETRIES = restate.InvocationRetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    exponentiation_factor=2.0,
    max_interval=timedelta(seconds=30),
    max_attempts=40,
    on_max_attempts="pause",
)
"""Retries only cover the services being unreachable or crashing: steps bound their own
retries, and handler defects end terminally. Past this the invocation pauses, which the
provider reports as needing an operator, rather than looping for days."""
