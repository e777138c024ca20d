"""The `restate` provider, and the pinned restate-server binary with a local process runner."""

from .binary import RESTATE_SERVER_VERSION, RestateServerInstallError, ensure_restate_server
from .provider import BUILTIN_WORKFLOW_ID, RestateProvider
from .server import LocalRestateServer, RestateServerStartError

__all__ = [
    "BUILTIN_WORKFLOW_ID",
    "RESTATE_SERVER_VERSION",
    "LocalRestateServer",
    "RestateProvider",
    "RestateServerInstallError",
    "RestateServerStartError",
    "ensure_restate_server",
]
