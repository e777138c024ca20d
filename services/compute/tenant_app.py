"""The built-in tenant app the `local` backend runs by default: a tiny HTTP server that answers
a health check and names its tenant. Run as ``python -m services.compute.tenant_app --port N``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

TENANT_ENV = "LANDLORD_TENANT_ID"
SETTINGS_ENV = "LANDLORD_TENANT_SETTINGS"


class TenantHandler(BaseHTTPRequestHandler):
    """Answers `/health` (200 once `ready()`, 503 before) and `/` (the tenant and settings)."""

    tenant_id = ""
    settings: Any = None

    def ready(self) -> bool:
        """Whether the tenant is healthy; always, for the built-in app."""
        return True

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health" and not self.ready():
            self._send(503, {"status": "starting", "tenant": self.tenant_id})
        elif self.path == "/health":
            self._send(200, {"status": "ok", "tenant": self.tenant_id})
        elif self.path == "/":
            self._send(200, {"tenant": self.tenant_id, "settings": self.settings})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the services log is where operators look."""


def main(argv: list[str] | None = None, *, handler: type[TenantHandler] = TenantHandler) -> None:
    """Serve until SIGTERM (`handler`: a subclass may decide when the tenant is ready)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    handler.tenant_id = os.environ.get(TENANT_ENV, "")
    handler.settings = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
    server = ThreadingHTTPServer((args.host, args.port), handler)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        server.server_close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
