"""The npm `asl-validator` (the validator the ecosystem uses), pinned and cached beside the
restate-server binary, run by node: whether it finds each definition valid."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from local_stack.install import default_cache_dir

from .apt import ensure_apt_packages

__all__ = ["VERSION", "Validator", "install_validator"]

VERSION = "4.0.0"
_RUN = """
const validate = require("asl-validator");
let text = "";
process.stdin.on("data", (chunk) => (text += chunk));
process.stdin.on("end", () => {
  const verdicts = JSON.parse(text).map((definition) => {
    const { isValid, errors } = validate(definition, { checkPaths: true, checkArn: false });
    const messages = (errors || []).map((e) => e.Message || e.message || String(e));
    return { valid: isValid, errors: messages };
  });
  process.stdout.write(JSON.stringify(verdicts));
});
"""


class Validator:
    """asl-validator installed under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def verdicts(self, definitions: Sequence[Any]) -> list[tuple[bool, list[str]]]:
        """(valid, its error messages) for each definition, in one node process."""
        done = subprocess.run(
            ["node", "-e", _RUN],
            input=json.dumps(list(definitions)),
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"asl-validator failed: {done.stderr.strip()[-500:]}")
        return [(bool(v["valid"]), list(v["errors"])) for v in json.loads(done.stdout)]


def install_validator(*, say: Callable[[str], None]) -> Validator:
    """The pinned validator: from the cache, else installed from the npm registry (node and
    npm from Debian when missing)."""
    root = default_cache_dir() / f"asl-validator-{VERSION}"
    if (root / "node_modules" / "asl-validator" / "package.json").is_file():
        return Validator(root)
    ensure_apt_packages(("node", "npm"), ("nodejs", "npm"), say=say)
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    say(f"installing asl-validator {VERSION} from the npm registry")
    done = subprocess.run(
        [
            "npm",
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(staging),
            f"asl-validator@{VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm install asl-validator failed: {done.stderr.strip()[-500:]}")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    return Validator(root)
