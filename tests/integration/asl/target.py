"""A real HTTP server for HTTP tasks to call, and what it heard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar


class Target(BaseHTTPRequestHandler):
    """Answers every POST with what it was sent (503 under /fail), recording it by path."""

    received: ClassVar[list[tuple[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        self.received.append((self.path, body))
        status = 503 if self.path.startswith("/fail") else 200
        answer = json.dumps({"got": body, "path": self.path}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        return


@dataclass(frozen=True)
class HttpTarget:
    """Where the HTTP tasks call, and what it heard."""

    url: str

    def bodies(self, path: str) -> list[Any]:
        return [body for called, body in list(Target.received) if called == path]

    def counts(self, prefix: str) -> dict[str, int]:
        """How often each path under `prefix` was called."""
        found: dict[str, int] = {}
        for called, _ in list(Target.received):
            if called.startswith(prefix):
                found[called] = found.get(called, 0) + 1
        return found
