"""Secrets inside the deployment: a run's envelopes opened only inside the step that hands
them to compute (opening.py), and the references a request's config may hold (references.py)."""

from .opening import (
    PLACEHOLDER,
    RunSecrets,
    SecretUnavailableError,
    secret_paths,
    services_keyring,
)
from .references import (
    RESOLVERS,
    EnvResolver,
    FileResolver,
    SecretResolver,
    SecretsManagerResolver,
    UnresolvableReferenceError,
    resolve_reference,
)

__all__ = [
    "PLACEHOLDER",
    "RESOLVERS",
    "EnvResolver",
    "FileResolver",
    "RunSecrets",
    "SecretResolver",
    "SecretUnavailableError",
    "SecretsManagerResolver",
    "UnresolvableReferenceError",
    "resolve_reference",
    "secret_paths",
    "services_keyring",
]
