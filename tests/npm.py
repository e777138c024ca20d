"""npm packages the tests run with node, pinned and installed once into the per-user cache
beside the restate-server binary (node and npm from Debian when missing)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from local_stack.install import default_cache_dir

from .apt import ensure_apt_packages

__all__ = ["ensure_npm_packages"]


def ensure_npm_packages(name: str, specs: Sequence[str], *, say: Callable[[str], None]) -> Path:
    """The directory holding `node_modules` of `specs` (`pkg@version`), from the cache at
    `<cache>/<name>`, else installed there from the npm registry. A half-done install is never
    reused: it goes into a staging directory renamed into place once npm succeeded."""
    root = default_cache_dir() / name
    packages = [spec.rpartition("@")[0] for spec in specs]
    if all((root / "node_modules" / package / "package.json").is_file() for package in packages):
        return root
    ensure_apt_packages(("node", "npm"), ("nodejs", "npm"), say=say)
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    say(f"installing {' '.join(specs)} from the npm registry")
    done = subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(staging), *specs],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm install {' '.join(specs)} failed: {done.stderr.strip()[-500:]}")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return root
