"""botocore errors → the interface's errors, in one table.

| AWS | interface |
|---|---|
| StateMachineDoesNotExist, StateMachineDeleting | WorkflowNotFoundError |
| ExecutionDoesNotExist, InvalidArn (of an execution) | ExecutionNotFoundError |
| InvalidDefinition, InvalidName, InvalidExecutionInput, ValidationException | InvalidSpecError |
| ExecutionAlreadyExists | ExecutionConflictError (after comparing inputs, in the provider) |
| AccessDeniedException, UnrecognizedClientException, bad tokens, no creds | AuthenticationError |
| throttling, 5xx, connection and read errors, quotas | ProviderUnavailableError |

Messages never carry credentials: authentication errors say which code and operation, never
AWS's message (it names the caller's identity), and nothing here reads a key.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from .._exceptions import (
    AuthenticationError,
    ExecutionConflictError,
    ExecutionNotFoundError,
    InvalidSpecError,
    ProviderUnavailableError,
    WorkflowError,
    WorkflowNotFoundError,
)

__all__ = [
    "AUTH_CODES",
    "UNAVAILABLE_CODES",
    "error_code",
    "translate",
]

AUTH_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "NotAuthorized",
    }
)
UNAVAILABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "ServiceQuotaExceededException",
        "ExecutionLimitExceeded",
        "StateMachineLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_SPEC_FIELDS = {
    "InvalidDefinition": "definition",
    "InvalidName": "workflow_id",
    "InvalidExecutionInput": "input",
    "InvalidLoggingConfiguration": "provider_config",
    "InvalidTracingConfiguration": "provider_config",
    "StateMachineTypeNotSupported": "workflow.step_functions.state_machine_type",
    "StateMachineAlreadyExists": "workflow_id",
    "ValidationException": "request",
    "MissingRequiredParameter": "request",
}


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore `ClientError`."""
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError) -> str:
    """AWS's message (never used for authentication errors: it names the caller)."""
    return str(error.response.get("Error", {}).get("Message", "")) or error_code(error)


def _status(error: ClientError) -> int:
    """The HTTP status of the failed call (0 when botocore did not record one)."""
    metadata: dict[str, Any] = dict(error.response.get("ResponseMetadata", {}))
    status = metadata.get("HTTPStatusCode", 0)
    return status if isinstance(status, int) else 0


def translate(
    error: BotoCoreError | ClientError,
    *,
    endpoint: str,
    operation: str,
    workflow_id: str | None = None,
    execution_id: str | None = None,
    execution_name: str | None = None,
) -> WorkflowError:
    """The interface error for a failed Step Functions (or STS) call."""
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return AuthenticationError(endpoint, reason="no usable AWS credentials in the chain")
    if isinstance(error, NoRegionError):
        return ProviderUnavailableError(endpoint, reason="no AWS region is configured")
    if isinstance(error, ConnectionError | HTTPClientError):
        return ProviderUnavailableError(endpoint, reason=f"{operation}: {type(error).__name__}")
    if isinstance(error, ParamValidationError):
        return InvalidSpecError.single("request", str(error).replace("\n", " "))
    if not isinstance(error, ClientError):
        return WorkflowError(f"Step Functions {operation} failed: {type(error).__name__}")
    code = error_code(error)
    if code in AUTH_CODES:
        return AuthenticationError(endpoint, reason=f"{code} on {operation}")
    if code in UNAVAILABLE_CODES or _status(error) >= 500:
        return ProviderUnavailableError(endpoint, reason=f"{operation}: {code or _status(error)}")
    if code in ("StateMachineDoesNotExist", "StateMachineDeleting") and workflow_id:
        return WorkflowNotFoundError(workflow_id)
    if code in ("ExecutionDoesNotExist", "InvalidArn") and execution_id:
        return ExecutionNotFoundError(execution_id)
    if code == "ExecutionAlreadyExists" and workflow_id and execution_name:
        return ExecutionConflictError(
            workflow_id, execution_name, execution_id=execution_id or _message(error)
        )
    if code in _SPEC_FIELDS:
        field = "execution_name" if code == "InvalidName" and execution_name else _SPEC_FIELDS[code]
        return InvalidSpecError.single(field, _message(error))
    return WorkflowError(f"Step Functions {operation} failed: [{code}] {_message(error)}")
