"""Sealed secrets, shared by the control plane (which seals) and the deployment (which opens).

A secret in an execution input leaves the control plane only as an AES-256-GCM envelope under
a keyring both sides hold, bound to its tenant, execution and field; Restate journals the
envelope and never the value."""

from ._exceptions import (
    KeyringError,
    MarkerError,
    NoKeyringError,
    OpenError,
    SealingError,
    TamperedError,
    UnknownKeyError,
)
from .envelope import SEALED, Binding, Envelope, open_envelope, seal
from .keyring import KEY_ID_PATTERN, KEYRING_ENV, KEYRING_FILE_ENV, Keyring
from .markers import (
    DESCEND,
    ENV_PATH,
    SECRET,
    SECRET_REF,
    Marker,
    Path,
    dotted,
    is_env_value,
    key_ids,
    marker_of,
    mask_secrets,
    seal_secrets,
    tenant_of,
    transform,
)

__all__ = [
    "DESCEND",
    "ENV_PATH",
    "KEYRING_ENV",
    "KEYRING_FILE_ENV",
    "KEY_ID_PATTERN",
    "SEALED",
    "SECRET",
    "SECRET_REF",
    "Binding",
    "Envelope",
    "Keyring",
    "KeyringError",
    "Marker",
    "MarkerError",
    "NoKeyringError",
    "OpenError",
    "Path",
    "SealingError",
    "TamperedError",
    "UnknownKeyError",
    "dotted",
    "is_env_value",
    "key_ids",
    "marker_of",
    "mask_secrets",
    "open_envelope",
    "seal",
    "seal_secrets",
    "tenant_of",
    "transform",
]
