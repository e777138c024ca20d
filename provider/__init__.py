"""The landlord workflow interface: models, errors, validation, registry, manager.

Providers live in subpackages (`provider.mock`, and the engine adapters); configuration in
`provider.config`; the command line in `provider.cli`.
"""

from services.contract import Duration, PositiveDuration, format_duration, parse_duration

from ._exceptions import (
    AuthenticationError,
    BackendError,
    CallerError,
    ExecutionConflictError,
    ExecutionFailedError,
    ExecutionNotFoundError,
    InvalidSpecError,
    Problem,
    ProviderConflictError,
    ProviderNotFoundError,
    ProviderUnavailableError,
    UnexpectedResponseError,
    WorkflowError,
    WorkflowNotFoundError,
)
from .manager import Manager
from .models import (
    CreateWorkflowResult,
    ExecutionError,
    ExecutionEvent,
    ExecutionInput,
    ExecutionResult,
    ExecutionState,
    ExecutionStatus,
    HealthCheck,
    ProviderHealth,
    RetryPolicy,
    WorkflowSpec,
)
from .protocol import ChecksHealth, Provider, ReadsManyStatuses, StartsUp, WaitsForExecutions
from .registry import Registry
from .tenants import Tenants, TenantSummary
from .validation import (
    EXECUTION_NAME_PATTERN,
    WORKFLOW_ID_PATTERN,
    validate_execution_id,
    validate_workflow_id,
)

__all__ = [
    "EXECUTION_NAME_PATTERN",
    "WORKFLOW_ID_PATTERN",
    "AuthenticationError",
    "BackendError",
    "CallerError",
    "ChecksHealth",
    "CreateWorkflowResult",
    "Duration",
    "ExecutionConflictError",
    "ExecutionError",
    "ExecutionEvent",
    "ExecutionFailedError",
    "ExecutionInput",
    "ExecutionNotFoundError",
    "ExecutionResult",
    "ExecutionState",
    "ExecutionStatus",
    "HealthCheck",
    "InvalidSpecError",
    "Manager",
    "PositiveDuration",
    "Problem",
    "Provider",
    "ProviderConflictError",
    "ProviderHealth",
    "ProviderNotFoundError",
    "ProviderUnavailableError",
    "ReadsManyStatuses",
    "Registry",
    "RetryPolicy",
    "StartsUp",
    "TenantSummary",
    "Tenants",
    "UnexpectedResponseError",
    "WaitsForExecutions",
    "WorkflowError",
    "WorkflowNotFoundError",
    "WorkflowSpec",
    "format_duration",
    "parse_duration",
    "validate_execution_id",
    "validate_workflow_id",
]
