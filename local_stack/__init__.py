"""The local stack: the pinned restate-server from the npm registry, run as a local process,
and HTTP child processes (the services, a tenant) started and stopped around it.

Neither the deployment nor the control plane: `make run`, `make test`, the tests and the
benchmarks use it to stand a real Restate up on this machine.
"""

from .install import RESTATE_SERVER_VERSION, RestateServerInstallError, ensure_restate_server
from .ports import free_port, free_ports, port_is_free
from .processes import HttpProcess, HttpProcessError
from .server import LocalRestateServer, RestateServerStartError

__all__ = [
    "RESTATE_SERVER_VERSION",
    "HttpProcess",
    "HttpProcessError",
    "LocalRestateServer",
    "RestateServerInstallError",
    "RestateServerStartError",
    "ensure_restate_server",
    "free_port",
    "free_ports",
    "port_is_free",
]
