"""Request identity end to end: a restate-server that signs every request with an ed25519 key,
and `services.app:app` configured (via `LANDLORD_SERVICES_IDENTITY_KEYS`) with the matching
`publickeyv1_…` key, with another key, or with a malformed one."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from local_stack import LocalRestateServer
from local_stack.ports import free_port
from provider.restate.identity import base58, ensure_identity_key, key_id
from tests.servers import REPO_ROOT, environment_without_settings

ServeAsgi = Callable[..., str]

SERVICES_APP = "services.app:app"
PRIVATE_KEY_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE"
IDENTITY_KEYS_ENV = "LANDLORD_SERVICES_IDENTITY_KEYS"
STATE_DIR_ENV = "LANDLORD_SERVICES_STATE_DIR"
DISCOVERY_ACCEPT = "application/vnd.restate.endpointmanifest.v4+json"
LOGGED_KEY_DEADLINE_SECONDS = 30.0
START_FAILURE_DEADLINE_SECONDS = 60.0
HTTP_TIMEOUT_SECONDS = 30.0

# restate-server logs, at start-up:  Loaded request identity key\n    kid: "publickeyv1_…"
_LOGGED_KEY = re.compile(
    r'Loaded request identity key\s+kid: "(publickeyv1_[1-9A-HJ-NP-Za-km-z]+)"'
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed_headers(private_key: Ed25519PrivateKey, path: str) -> dict[str, str]:
    """Request-identity headers as restate-server sends them (scheme v1: an EdDSA JWT whose
    `kid` is the key id and whose `aud` is the request path)."""
    now = int(time.time())
    header = {"typ": "JWT", "alg": "EdDSA", "kid": key_id(private_key)}
    claims = {"aud": path, "exp": now + 60, "iat": now, "nbf": now - 60}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = private_key.sign(signing_input.encode("ascii"))
    return {
        "x-restate-signature-scheme": "v1",
        "x-restate-jwt-v1": f"{signing_input}.{_b64url(signature)}",
    }


@dataclass(frozen=True)
class SigningServer:
    """A restate-server holding `private_key`; `key_id` is the public key its log printed."""

    server: LocalRestateServer
    private_key: Ed25519PrivateKey
    key_id: str

    @property
    def admin_url(self) -> str:
        return self.server.admin_url

    @property
    def ingress_url(self) -> str:
        return self.server.ingress_url

    def report_sections(self) -> list[tuple[str, str]]:
        """Shown with a failed test (tests/integration/conftest.py collects these)."""
        return [("signing restate-server log (last 60 lines)", self.server.log_text(tail=60))]


def wait_for_logged_key(server: LocalRestateServer, *, timeout: float) -> str:
    """The `publickeyv1_…` key the server logs once it has loaded its private key."""
    deadline = time.monotonic() + timeout
    while True:
        found = _LOGGED_KEY.search(server.log_text())
        if found:
            return found.group(1)
        if time.monotonic() >= deadline:
            pytest.fail(
                f"restate-server logged no request identity key within {timeout:.0f}s:\n"
                f"{server.log_text(tail=40)}"
            )
        time.sleep(0.05)


@pytest.fixture(scope="module")
def signing_server(
    restate_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SigningServer]:
    """A restate-server of this module's own that signs its requests with a fresh ed25519 key."""
    work_dir = tmp_path_factory.mktemp("signing-server")
    pem_path = work_dir / "request-identity.pem"
    ensure_identity_key(pem_path)  # what `landlord-restate identity-key` does
    private_key = serialization.load_pem_private_key(pem_path.read_bytes(), password=None)
    assert isinstance(private_key, Ed25519PrivateKey)
    server = LocalRestateServer(
        binary=restate_binary,
        data_dir=work_dir / "data",
        partitions=1,
        extra_env={PRIVATE_KEY_ENV: str(pem_path)},
    )
    server.start()
    try:
        logged = wait_for_logged_key(server, timeout=LOGGED_KEY_DEADLINE_SECONDS)
        yield SigningServer(server=server, private_key=private_key, key_id=logged)
    finally:
        server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, trust_env=False) as client:
        yield client


def serve_services(serve_asgi: ServeAsgi, tmp_path: Path, identity_keys: str) -> str:
    """`services.app:app` under hypercorn with the given identity keys; returns its URL."""
    url: str = serve_asgi(
        SERVICES_APP,
        env={IDENTITY_KEYS_ENV: identity_keys, STATE_DIR_ENV: str(tmp_path / "tenants")},
    )
    return url


def test_server_logs_the_public_key_of_its_pem(signing_server: SigningServer) -> None:
    """The key the server logs for a PEM made by `ensure_identity_key` is the id we compute:
    `publickeyv1_` + base58 of the raw public key."""
    assert signing_server.key_id == key_id(signing_server.private_key)


def test_matching_key_registers_and_runs_a_workflow(
    signing_server: SigningServer, serve_asgi: ServeAsgi, tmp_path: Path, http: httpx.Client
) -> None:
    """With the server's key, signed discovery registers (201) and a signed workflow call runs."""
    url = serve_services(serve_asgi, tmp_path, signing_server.key_id)

    registered = http.post(f"{signing_server.admin_url}/deployments", json={"uri": url})
    assert registered.status_code == 201, registered.text
    names = {service["name"] for service in registered.json()["services"]}
    assert {"TenantProvisioning", "TenantLock"} <= names

    workflow_key = f"id-1-plan-{uuid.uuid4().hex[:8]}"
    call = http.post(
        f"{signing_server.ingress_url}/restate/call/TenantProvisioning/{workflow_key}/run",
        json={"tenant_id": "id-1", "operation": "plan", "compute_provider": "mock"},
    )
    assert call.status_code == 200, call.text
    result: dict[str, Any] = call.json()
    assert (result["tenant_id"], result["operation"]) == ("id-1", "plan")


def test_requests_without_the_servers_signature_are_refused(
    signing_server: SigningServer, serve_asgi: ServeAsgi, tmp_path: Path, http: httpx.Client
) -> None:
    """Unsigned, stranger-signed or wrong-path requests get 401; the server's signature gets 200."""
    url = serve_services(serve_asgi, tmp_path, signing_server.key_id)
    discover = {"accept": DISCOVERY_ACCEPT}
    invoke_path = "/invoke/TenantProvisioning/run"
    stranger = Ed25519PrivateKey.generate()

    unsigned_discover = http.get(f"{url}/discover", headers=discover)
    assert unsigned_discover.status_code == 401, unsigned_discover.text
    unsigned_invoke = http.post(f"{url}{invoke_path}", content=b"")
    assert unsigned_invoke.status_code == 401, unsigned_invoke.text
    stranger_signed = http.get(
        f"{url}/discover", headers=discover | signed_headers(stranger, "/discover")
    )
    assert stranger_signed.status_code == 401, stranger_signed.text
    # Signed by the right key, but for another path: the audience must match the request.
    wrong_audience = http.get(
        f"{url}/discover", headers=discover | signed_headers(signing_server.private_key, "/x")
    )
    assert wrong_audience.status_code == 401, wrong_audience.text

    signed = http.get(
        f"{url}/discover",
        headers=discover | signed_headers(signing_server.private_key, "/discover"),
    )
    assert signed.status_code == 200, signed.text
    assert "TenantProvisioning" in {service["name"] for service in signed.json()["services"]}
    assert http.get(f"{url}/health").status_code == 200


def test_services_with_another_key_refuse_the_servers_registration(
    signing_server: SigningServer, serve_asgi: ServeAsgi, tmp_path: Path, http: httpx.Client
) -> None:
    """Services trusting another key 401 discovery: admin answers 500 META0003, registers none."""
    other_key = key_id(Ed25519PrivateKey.generate())
    assert other_key != signing_server.key_id
    url = serve_services(serve_asgi, tmp_path, other_key)

    refused = http.post(f"{signing_server.admin_url}/deployments", json={"uri": url})
    assert refused.status_code == 500, refused.text
    assert "META0003" in refused.text
    assert "401" in refused.text

    deployments = http.get(f"{signing_server.admin_url}/deployments")
    assert deployments.status_code == 200, deployments.text
    assert url not in {d.get("uri") for d in deployments.json()["deployments"]}


# A malformed key must stop the services process with one line naming the setting.


@pytest.mark.parametrize(
    "malformed",
    [
        pytest.param("not-a-public-key", id="wrong-prefix"),
        pytest.param(
            "publickeyv1_0OIl",
            id="not-base58",
        ),
        pytest.param(
            "publickeyv1_" + base58(bytes(range(1, 17))),
            id="16-byte-key",
        ),
    ],
)
def test_malformed_identity_key_stops_the_services_process(tmp_path: Path, malformed: str) -> None:
    """A malformed key makes `landlord-restate serve` exit non-zero unserved, naming the setting."""
    port = free_port()
    env = environment_without_settings()
    env |= {
        IDENTITY_KEYS_ENV: f"{key_id(Ed25519PrivateKey.generate())},{malformed}",
        STATE_DIR_ENV: str(tmp_path / "tenants"),
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "serve.log"
    command = [str(Path(sys.executable).with_name("landlord-restate")), "serve"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        served = False
        deadline = time.monotonic() + START_FAILURE_DEADLINE_SECONDS
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while process.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    served = client.get(f"http://127.0.0.1:{port}/health").status_code == 200
                if served:
                    break
                time.sleep(0.05)
        code = process.poll()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    output = log_path.read_text(encoding="utf-8", errors="replace")

    assert not served, f"served /health despite a malformed key:\n{output}"
    assert code is not None, f"still running after {START_FAILURE_DEADLINE_SECONDS:.0f}s"
    assert code != 0, output
    assert code == 2, output
    assert f"error: {IDENTITY_KEYS_ENV}: " in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
