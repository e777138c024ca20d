"""The npm `asl-validator` (the validator the ecosystem uses), pinned and cached beside the
restate-server binary, run by node: whether it finds each definition valid."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .npm import ensure_npm_packages

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
    return Validator(
        ensure_npm_packages(f"asl-validator-{VERSION}", [f"asl-validator@{VERSION}"], say=say)
    )
