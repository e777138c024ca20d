"""The images the container tier runs, all made on this machine (no registry is reachable):
a Debian base with python3, restate-server from the pinned binary, and the two images of the
repository's Dockerfile on that base: the services image (its default target) and the control
image (`--target control`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors

from local_stack import RESTATE_SERVER_VERSION
from local_stack.install import default_cache_dir
from tests.containers.engine import root_prefix
from tests.servers import REPO_ROOT

__all__ = [
    "BASE_IMAGE",
    "CONTROL_IMAGE",
    "RESTATE_IMAGE",
    "SERVICES_IMAGE",
    "ImageBuildError",
    "base_image",
    "control_image",
    "restate_image",
    "services_image",
]

BASE_IMAGE = "landlord-restate-test-base:bookworm"
RESTATE_IMAGE = f"docker.restate.dev/restatedev/restate:{RESTATE_SERVER_VERSION}"
"""The tag docker-compose.yml names, so the stack runs unchanged on the local build."""
SERVICES_IMAGE = "landlord-restate-services:test"
CONTROL_IMAGE = "landlord-restate-control:test"
DEBIAN_MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
"""This machine's trust store, given to images made here (pip inside a build reaches PyPI
through whatever this machine trusts)."""
Say = Callable[[str], None]
_STEP = re.compile(r"^#\d+ \[")
"""BuildKit's plain progress: the first line of each step, `#7 [build 3/6] RUN …`."""
_TRIM = ("usr/share/doc", "usr/share/man", "usr/share/locale", "var/cache/apt", "var/lib/apt/lists")


class ImageBuildError(RuntimeError):
    """An image could not be made; the message ends with the builder's last lines."""


def _has(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise ImageBuildError(f"{what} failed ({done.returncode}):\n{tail}")


def _base_rootfs(tarball: Path, *, root_prefix: list[str], say: Say) -> None:
    """debootstrap a minimal bookworm with python3 and venv into a tarball (cached)."""
    with tempfile.TemporaryDirectory(prefix="landlord-base-") as work:
        rootfs = Path(work) / "rootfs"
        say(f"making the base image: debootstrap bookworm from {DEBIAN_MIRROR} (about a minute)")
        _run(
            [
                *root_prefix, "debootstrap", "--variant=minbase",
                "--include=python3,python3-venv,ca-certificates", "bookworm", str(rootfs),
                DEBIAN_MIRROR,
            ],
            "debootstrap",
        )  # fmt: skip
        if HOST_CA_BUNDLE.exists():
            shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
        for path in _TRIM:
            shutil.rmtree(rootfs / path, ignore_errors=True)
        partial = tarball.with_suffix(".partial")
        _run([*root_prefix, "tar", "-C", str(rootfs), "-cf", str(partial), "."], "tar")
        partial.replace(tarball)
        _run([*root_prefix, "rm", "-rf", str(rootfs)], "cleanup")


def base_image(client: Any, *, say: Say) -> str:
    """A local Debian bookworm image with python3 (imported from a cached rootfs tarball)."""
    if _has(client, BASE_IMAGE):
        return BASE_IMAGE
    tarball = default_cache_dir() / "base-bookworm.tar"
    if not tarball.exists():
        _base_rootfs(tarball, root_prefix=root_prefix(), say=say)
    say(f"importing {tarball.name} as {BASE_IMAGE}")
    repository, tag = BASE_IMAGE.split(":")
    client.api.import_image_from_file(
        str(tarball), repository=repository, tag=tag, changes=['CMD ["python3"]']
    )
    return BASE_IMAGE


def buildkit_command() -> list[str] | None:
    """A docker CLI that builds with BuildKit: one with the buildx plugin, or a client older
    than 23 (Debian's 20.10 has BuildKit built in). None: only the engine's legacy builder."""
    for cli in dict.fromkeys(filter(None, (shutil.which("docker"), "/usr/bin/docker"))):
        if not Path(cli).exists():
            continue
        if subprocess.run([cli, "buildx", "version"], capture_output=True).returncode == 0:
            return [cli, "buildx", "build", "--load"]
        version = subprocess.run(
            [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True
        ).stdout.strip()
        if version.split(".")[0].isdigit() and int(version.split(".")[0]) < 23:
            return [cli, "build"]
    return None


def _build(
    client: Any,
    *,
    path: Path,
    tag: str,
    say: Say,
    buildargs: dict[str, str] | None = None,
    target: str | None = None,
) -> str:
    """Build `path` (its Dockerfile's `target` stage, else the last), one progress line per
    step; a failure ends with the builder's last lines. BuildKit when a CLI offers it (on vfs
    storage the legacy builder copies the whole image at every step: minutes instead of
    seconds)."""
    say(f"building {tag}")
    arguments = [f"--build-arg={key}={value}" for key, value in (buildargs or {}).items()]
    if target is not None:
        arguments.append(f"--target={target}")
    command = buildkit_command()
    if command is not None:
        lines: list[str] = []
        with subprocess.Popen(
            [*command, "--progress=plain", "--network=host", "--tag", tag, *arguments, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
        ) as build:
            assert build.stdout is not None
            for line in build.stdout:
                lines.append(line.rstrip())
                if _STEP.match(line):
                    say(f"  {line.rstrip()}")
        if build.returncode != 0:
            tail = "\n".join(lines[-15:])
            raise ImageBuildError(f"building {tag} failed ({build.returncode}):\n{tail}")
        return tag
    legacy: list[str] = []
    stream = client.api.build(
        path=str(path), tag=tag, buildargs=buildargs or {}, target=target,
        rm=True, forcerm=True, decode=True, network_mode="host",
    )  # fmt: skip
    for chunk in stream:
        text = str(chunk.get("stream", "")).rstrip()
        if text:
            legacy.append(text)
            if text.startswith("Step "):
                say(f"  {text}")
        if "error" in chunk:
            tail = "\n".join(legacy[-15:])
            raise ImageBuildError(f"building {tag} failed: {chunk['error']}\n{tail}")
    return tag


def restate_image(client: Any, *, binary: Path, say: Say) -> str:
    """restate-server from the pinned binary, tagged as the image docker-compose.yml names."""
    if _has(client, RESTATE_IMAGE):
        return RESTATE_IMAGE
    with tempfile.TemporaryDirectory(prefix="landlord-restate-image-") as work:
        context = Path(work)
        shutil.copyfile(REPO_ROOT / "tests/containers/restate.Dockerfile", context / "Dockerfile")
        shutil.copyfile(HOST_CA_BUNDLE, context / "ca-certificates.crt")
        shutil.copy2(binary, context / "restate-server")
        return _build(client, path=context, tag=RESTATE_IMAGE, say=say)


def services_image(
    client: Any, *, base: str, say: Say, extras: str = "", tag: str = SERVICES_IMAGE
) -> str:
    """The repository's Dockerfile, default target (serving only), built on `base`; `extras`
    is its EXTRAS build argument (layers reused while pyproject is unchanged)."""
    return _build(
        client,
        path=REPO_ROOT,
        tag=tag,
        say=say,
        buildargs={"BASE_IMAGE": base, "EXTRAS": extras},
        target="services",
    )


def control_image(client: Any, *, base: str, say: Say) -> str:
    """The repository's Dockerfile, target `control` (the landlord-restate command)."""
    return _build(
        client,
        path=REPO_ROOT,
        tag=CONTROL_IMAGE,
        say=say,
        buildargs={"BASE_IMAGE": base},
        target="control",
    )
