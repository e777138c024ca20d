"""The command line meets a Restate that answers oddly: one line naming the endpoint and
carrying Restate's own words, exit 1, never a traceback."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from provider.cli import main


class _Teapot(http.server.BaseHTTPRequestHandler):
    """Answers every request with `status` and a Restate-style error body."""

    status = 418

    def _answer(self) -> None:
        body = json.dumps({"message": "[META0000] something Restate says"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _answer  # noqa: N815

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture(params=[418, 503])
def odd_restate(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    handler = type("Handler", (_Teapot,), {"status": request.param})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    finally:
        server.shutdown()


def test_an_unexpected_answer_is_one_line_with_restates_message(
    odd_restate: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    url, status = odd_restate
    with pytest.raises(SystemExit) as exited:
        main(
            [
                f"--workflow.restate.admin_endpoint={url}",
                "--workflow.restate.retry_attempts=0",
                "--workflow.default_provider=restate",
                "execution",
                "list",
                "tenant-provisioning",
            ]
        )
    out, err = capsys.readouterr()
    assert exited.value.code == 1
    assert out == ""
    lines = [line for line in err.splitlines() if not line.startswith("{")]  # log lines aside
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert url in lines[0]
    assert f"{status}" in lines[0]
    assert "something Restate says" in lines[0]
    assert "Traceback" not in err


def test_without_the_cli_extra_the_command_says_which_extra_in_one_line() -> None:
    """An install without `landlord-restate[cli]` (no typer) gets one line naming the extra."""
    blocked = (
        "import importlib.abc, sys\n"
        "class Blocked(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('typer', 'rich'):\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Blocked())\n"
        "from provider.cli import main\n"
        "main(['--help'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: the landlord-restate command needs the 'cli' extra (typer is not installed): "
        "pip install 'landlord-restate[cli]'"
    ]
