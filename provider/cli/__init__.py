"""The `landlord-restate` command line (the `cli` extra: typer and rich).

`main` loads the command lazily, so that without the extra it says so in one line."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["app", "main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point (see `provider.cli.root.main`)."""
    try:
        from .root import main as run
    except ImportError as error:
        missing = error.name or "a library"
        print(
            f"error: the landlord-restate command needs the 'cli' extra ({missing} is not "
            "installed): pip install 'landlord-restate[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    run(argv)


def __getattr__(name: str) -> Any:
    if name == "app":
        from .root import app

        return app
    raise AttributeError(name)
