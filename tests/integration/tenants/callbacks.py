"""A control plane stand-in that records the transitions the workflow POSTs to it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class CallbackServer:
    """Collects POSTed transitions, answering each with `answer`; `hold` makes requests wait
    until released."""

    def __init__(self, *, answer: int = 204) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.received.append((self.headers["Idempotency-Key"], body))
                recorder.arrived.set()
                recorder.hold.wait(timeout=60)
                self.send_response(answer)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tenant-events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CallbackServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def phases(self) -> list[str]:
        """The phases of the distinct transitions received (deduplicated by key)."""
        seen: dict[str, str] = {}
        for key, body in self.received:
            seen.setdefault(key, body["event"]["phase"])
        return list(seen.values())
