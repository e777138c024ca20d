"""The workflow error tree. Every error a provider raises is one of these; catch a branch to
handle a category (the caller's mistake, or trouble with the backend).

    WorkflowError
    ├── CallerError                 the request cannot succeed as sent; fix it, do not retry
    │   ├── InvalidSpecError        input broke a rule; `.problems` names each field and rule
    │   ├── WorkflowNotFoundError   no workflow with that id
    │   ├── ExecutionNotFoundError  no execution with that id
    │   ├── ExecutionConflictError  same execution name, different input
    │   ├── ProviderNotFoundError   no provider registered under that name
    │   └── ProviderConflictError   a provider with that name is already registered
    ├── ExecutionFailedError        the execution ended in failure
    └── BackendError                the engine is the trouble; `.endpoint` says which
        ├── ProviderUnavailableError    cannot be reached (after retries), or answered 5xx
        ├── AuthenticationError         refused the credentials
        └── UnexpectedResponseError     answered something the provider cannot use; carries
                                        the engine's own message

Messages never carry secrets: they name fields and rules, not the values of secret fields.
"""

from __future__ import annotations

from services.contract import Problem, refusal

__all__ = [
    "AuthenticationError",
    "BackendError",
    "CallerError",
    "ExecutionConflictError",
    "ExecutionFailedError",
    "ExecutionNotFoundError",
    "InvalidSpecError",
    "Problem",
    "ProviderConflictError",
    "ProviderNotFoundError",
    "ProviderUnavailableError",
    "UnexpectedResponseError",
    "WorkflowError",
    "WorkflowNotFoundError",
]


class WorkflowError(Exception):
    """Base of every error raised by the workflow layer."""


class CallerError(WorkflowError):
    """The request cannot succeed as it was sent (retrying it unchanged gives the same)."""


class BackendError(WorkflowError):
    """The workflow engine is the trouble, not the request; `endpoint` is where we called."""

    endpoint: str


class ProviderNotFoundError(CallerError):
    """No provider is registered under the requested name."""

    def __init__(self, name: str, *, registered: list[str]) -> None:
        self.name = name
        self.registered = registered
        known = ", ".join(registered) if registered else "none"
        super().__init__(f"workflow provider {name!r} is not registered (registered: {known})")


class ProviderConflictError(CallerError):
    """A provider with the same name is already registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"workflow provider {name!r} is already registered")


class InvalidSpecError(CallerError):
    """Input broke one or more validation rules; each is listed in `problems`."""

    def __init__(self, problems: list[Problem], *, subject: str = "workflow spec") -> None:
        if not problems:
            raise ValueError("InvalidSpecError needs at least one problem")
        self.problems = problems
        self.subject = subject
        super().__init__(refusal(subject, problems))

    @classmethod
    def single(cls, field: str, rule: str, *, subject: str = "workflow spec") -> InvalidSpecError:
        """Shorthand for an error with one problem."""
        return cls([Problem(field, rule)], subject=subject)


class WorkflowNotFoundError(CallerError):
    """No workflow with this id exists in the provider."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"workflow {workflow_id!r} not found")


class ExecutionNotFoundError(CallerError):
    """No execution with this id exists in the provider."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(f"execution {execution_id!r} not found")


class ExecutionFailedError(WorkflowError):
    """The execution ended in failure."""

    def __init__(self, execution_id: str, *, code: str, message: str) -> None:
        self.execution_id = execution_id
        self.code = code
        super().__init__(f"execution {execution_id!r} failed: [{code}] {message}")


class ExecutionConflictError(CallerError):
    """An execution with this name already exists with a different input."""

    def __init__(self, workflow_id: str, execution_name: str, *, execution_id: str) -> None:
        self.workflow_id = workflow_id
        self.execution_name = execution_name
        self.execution_id = execution_id
        super().__init__(
            f"execution name {execution_name!r} of workflow {workflow_id!r} is already used "
            f"by execution {execution_id!r} with a different input"
        )


class ProviderUnavailableError(BackendError):
    """The provider's backend cannot be reached; the endpoint says where we tried."""

    def __init__(self, endpoint: str, *, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"cannot reach {endpoint}: {reason}")


class AuthenticationError(BackendError):
    """The backend refused our credentials (the credentials themselves are never shown)."""

    def __init__(self, endpoint: str, *, reason: str = "credentials were rejected") -> None:
        self.endpoint = endpoint
        super().__init__(f"authentication to {endpoint} failed: {reason}")


class UnexpectedResponseError(BackendError):
    """The engine answered with something the provider cannot use (an unexpected status);
    the message carries the engine's own words."""

    def __init__(self, endpoint: str, *, request: str, status: int, message: str) -> None:
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"{endpoint} answered {request} with {status}: {message}")
