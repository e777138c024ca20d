"""A failing integration test's report shows the restate-server log tail and the app output."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).parents[1] / "servers.py"

INNER_TESTS = """
import httpx

def test_uses_server_and_app(restate_server, serve_asgi) -> None:
    url = serve_asgi("tests.integration.apps.greeter:app")
    assert httpx.get(url + "/health").status_code == 200
    assert False, "deliberate failure"

def test_without_server() -> None:
    assert False, "no server here"

def test_passes(restate_server) -> None:
    assert restate_server.running
"""


def test_failed_test_report_has_server_log_and_app_output(
    pytester: pytest.Pytester, restate_binary: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytester points HOME at a temporary directory: keep the inner run on the real binary
    # cache instead of downloading 225 MB again.
    monkeypatch.setenv("LANDLORD_RESTATE_CACHE", str(restate_binary.parents[2]))
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(test_inner=INNER_TESTS)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=2)
    output = result.stdout.str()
    # Only the failing test that used the server gets the sections.
    assert output.count("restate-server log (last 60 lines of") == 1
    assert output.count("hypercorn tests.integration.apps.greeter:app output") == 1
    result.stdout.fnmatch_lines(
        [
            "*_ test_uses_server_and_app _*",
            "*deliberate failure*",
            "*- restate-server log (last 60 lines of *restate-server.log) -*",
            "*- hypercorn tests.integration.apps.greeter:app output (last 60 lines) -*",
            "*Running on http://127.0.0.1:*",
            "*_ test_without_server _*",
        ]
    )
    # The server log section holds real server output, and the inner run reused the cache.
    section = output.split("restate-server log (last 60 lines of", 1)[1]
    assert "restate_" in section.split("hypercorn tests.integration.apps.greeter:app", 1)[0]
    assert "installing restate-server" not in output
