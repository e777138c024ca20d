"""``python -m local_stack``: install the pinned restate-server if needed, print its path."""

from __future__ import annotations

import sys

from .install import RestateServerInstallError, ensure_restate_server


def main(argv: list[str] | None = None) -> int:
    """CLI: install if needed, print the binary path on stdout (progress on stderr)."""
    if argv:
        print("usage: python -m local_stack", file=sys.stderr)
        return 2

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        path = ensure_restate_server(log=progress)
    except RestateServerInstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
