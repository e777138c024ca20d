"""Debian packages a test tier needs, installed when a command of theirs is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence

__all__ = ["AptUnavailableError", "ensure_apt_packages", "root_prefix"]


class AptUnavailableError(RuntimeError):
    """What a tier needs is not installed, and cannot be installed here (one line)."""


def root_prefix() -> list[str]:
    """How to run a command as root here: directly, with password-less sudo, or not at all."""
    if os.geteuid() == 0:
        return []
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n"]
    raise AptUnavailableError("not root and no password-less sudo")


def ensure_apt_packages(
    commands: Sequence[str], packages: Sequence[str], *, say: Callable[[str], None]
) -> None:
    """Install `packages` when any of `commands` is missing."""
    if all(shutil.which(name) for name in commands):
        return
    if not shutil.which("apt-get"):
        raise AptUnavailableError(
            f"{', '.join(commands)}: not installed, and there is no apt-get to install them"
        )
    prefix = root_prefix()
    say(f"installing {' '.join(packages)} (Debian packages)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *packages],
    ):
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise AptUnavailableError(f"{' '.join(command[:2])} failed: {last}")
