"""Free-port helpers for local servers (restate-server, ASGI apps) on a loopback interface."""

from __future__ import annotations

import contextlib
import socket

__all__ = ["free_port", "free_ports", "port_is_free"]


def _family(host: str) -> socket.AddressFamily:
    """IPv6 for an address with a colon (``::1``), IPv4 otherwise."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_ports(count: int, *, host: str = "127.0.0.1") -> list[int]:
    """Return ``count`` distinct ports that the OS reports free on ``host`` right now.

    All sockets stay open until every port is chosen, so the ports differ; another process may
    still take one before it is used (a small race every "pick a free port" helper has).
    """
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(_family(host), socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def free_port(*, host: str = "127.0.0.1") -> int:
    """Return one port that is free on ``host`` right now (see `free_ports`)."""
    return free_ports(1, host=host)[0]


def port_is_free(port: int, *, host: str = "127.0.0.1") -> bool:
    """Whether a listener could bind ``host:port`` now.

    ``SO_REUSEADDR`` is set like servers do, so a port held only by TIME_WAIT connections of a
    stopped server (e.g. during a restart) counts as free; an active listener does not.
    """
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
