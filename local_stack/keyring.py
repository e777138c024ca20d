"""The secrets keyring of the local stack: made once under its data directory, reused after.

`landlord-restate run` hands the file to the services it starts and to its own control plane,
so both seal and open with the same key; a keyring the user configured is used instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path

from sealing import KEYRING_ENV, KEYRING_FILE_ENV, Keyring

__all__ = ["LOCAL_KEYRING_NAME", "LOCAL_KEY_ID", "ensure_local_keyring"]

LOCAL_KEYRING_NAME = "secrets.keyring"
"""The keyring's file name inside the local stack's data directory."""
LOCAL_KEY_ID = "local-1"
"""The id of the one key a new local keyring holds."""


def _create(path: Path) -> None:
    """Write a fresh keyring to `path` (mode 0600) unless a file is already there: written to a
    private temporary file and hard-linked into place, so no reader sees it half written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o600)
            stream.write(Keyring.new_entry(LOCAL_KEY_ID) + "\n")
        with contextlib.suppress(FileExistsError):  # another run made it first: keep that one
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def ensure_local_keyring(data_dir: Path, *, environ: Mapping[str, str]) -> Path | None:
    """The local keyring file under `data_dir`, created on first use; None when `environ`
    already names a keyring (`LANDLORD_SECRETS_KEYRING` or `..._FILE`), which then wins."""
    if any(environ.get(name, "").strip() for name in (KEYRING_ENV, KEYRING_FILE_ENV)):
        return None
    path = data_dir / LOCAL_KEYRING_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _create(path)
    return path
