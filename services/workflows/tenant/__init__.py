"""The tenant lifecycle, one concern a module: a `TenantOperation` (operation.py) runs one of
the operations (operations.py) as durable steps under a deadline (steps.py), undoing them as a
saga (saga.py) while holding the tenant (tenant_hold.py) and publishing its live status
(live_status.py)."""

from .live_status import STATUS_KEY, LiveStatus, Outcome
from .operation import TenantOperation
from .operations import STEPS_TOTAL, Observed, OperationResult, Operations, plan_changes
from .saga import Compensation, Saga
from .steps import DeadlineError, Steps, is_cancellation
from .tenant_hold import TenantHold

__all__ = [
    "STATUS_KEY",
    "STEPS_TOTAL",
    "Compensation",
    "DeadlineError",
    "LiveStatus",
    "Observed",
    "OperationResult",
    "Operations",
    "Outcome",
    "Saga",
    "Steps",
    "TenantHold",
    "TenantOperation",
    "is_cancellation",
    "plan_changes",
]
