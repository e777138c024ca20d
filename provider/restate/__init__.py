"""Restate engine support: the pinned restate-server binary and a local server process runner."""

from .binary import RESTATE_SERVER_VERSION, RestateServerInstallError, ensure_restate_server
from .server import LocalRestateServer, RestateServerStartError

__all__ = [
    "RESTATE_SERVER_VERSION",
    "LocalRestateServer",
    "RestateServerInstallError",
    "RestateServerStartError",
    "ensure_restate_server",
]
