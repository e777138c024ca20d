"""The Dockerfile's two images: the services image serves with `python -m services` and holds
nothing of the control plane or the extras; the control image runs the `landlord-restate`
command; the services image's EXTRAS build argument adds a backend's library and refuses the
control plane's extras."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

import docker.errors
import pytest

from tests.containers.conftest import Images
from tests.containers.engine import Engine
from tests.containers.images import ImageBuildError, services_image

_FOUND = (
    "import importlib.util, json, shutil, sys\n"
    "names = sys.argv[1].split(',')\n"
    "print(json.dumps({\n"
    "    'found': [n for n in names if importlib.util.find_spec(n) is not None],\n"
    "    'cli': shutil.which('landlord-restate'),\n"
    "}))\n"
)
"""Which of the given top-level modules the image's python can import, and whether the CLI's
console script is on PATH."""

NOT_SERVING = (
    "provider", "local_stack",
    "boto3", "botocore", "docker", "typer", "rich", "click",
    "stamina", "jsonschema", "yaml", "pip",
    # the CLI's metrics exporter: the services record through the OpenTelemetry API only
    "opentelemetry.sdk", "opentelemetry.exporter",
)  # fmt: skip
"""What the services image must not hold: the control plane, every extra's library, pip."""
SERVING = (
    "services", "telemetry", "sealing", "restate", "cryptography",
    "opentelemetry", "prometheus_client",
)  # fmt: skip
"""What it must hold: the packages serving imports, the SDK, `sealing`'s AES-GCM library, and
the OpenTelemetry API and prometheus-client (spans, `/metrics`)."""
EXTRAS_IMAGE = "landlord-restate-services:test-extras"


def _probe(engine: Engine, image: str, names: tuple[str, ...]) -> dict[str, object]:
    output = engine.client.containers.run(
        image, entrypoint="python", command=["-c", _FOUND, ",".join(names)], remove=True
    )
    result: dict[str, object] = json.loads(output)
    return result


def _config(engine: Engine, image: str) -> dict[str, object]:
    config: dict[str, object] = engine.client.images.get(image).attrs["Config"]
    return config


def test_the_services_image_serves_without_the_control_plane(
    engine: Engine, images: Images
) -> None:
    """Its entry point is `python -m services` (not the CLI), as uid 10001 with a health check,
    it holds `sealing` and cryptography (it opens sealed secrets), and neither the CLI nor
    boto3, docker, typer or rich is installed."""
    config = _config(engine, images.services)
    assert config["Entrypoint"] == ["python", "-m", "services"]
    assert config["Cmd"] == ["--bind", "0.0.0.0:9080"]
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]
    probed = _probe(engine, images.services, (*NOT_SERVING, *SERVING))
    assert probed == {"found": list(SERVING), "cli": None}
    usage = engine.client.containers.run(images.services, command=["--help"], remove=True)
    assert b"usage: python -m services" in usage


def test_the_control_image_runs_the_cli(engine: Engine, images: Images) -> None:
    """Its entry point is `landlord-restate`, with the extras the one-shot steps and the AWS
    providers need; the controller, register and identity-key commands exist."""
    config = _config(engine, images.control)
    assert config["Entrypoint"] == ["landlord-restate"]
    assert config["User"] == "10001:10001"
    assert not config.get("Healthcheck")
    wanted = (
        "provider", "services", "telemetry", "sealing", "typer", "rich", "cryptography", "boto3",
    )  # fmt: skip
    probed = _probe(engine, images.control, wanted)
    assert probed["found"] == list(wanted)
    assert probed["cli"] == "/opt/landlord/bin/landlord-restate"
    for step in (["controller", "--help"], ["register", "--help"], ["identity-key", "--help"]):
        assert b"Usage" in engine.client.containers.run(images.control, command=step, remove=True)


def test_extras_add_a_backends_library_to_the_services_image(
    engine: Engine, images: Images, say: Callable[[str], None]
) -> None:
    """EXTRAS=docker,ecs installs the docker and boto3 libraries and nothing of the CLI;
    a control-plane extra is refused at build time."""
    try:
        tag = services_image(
            engine.client, base=images.base, say=say, extras="docker,ecs", tag=EXTRAS_IMAGE
        )
        probed = _probe(engine, tag, ("docker", "boto3", "typer", "rich", "provider"))
        assert probed == {"found": ["docker", "boto3"], "cli": None}
        with pytest.raises(ImageBuildError, match="not a serving extra"):
            services_image(engine.client, base=images.base, say=say, extras="cli", tag=EXTRAS_IMAGE)
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            engine.client.images.remove(EXTRAS_IMAGE)
