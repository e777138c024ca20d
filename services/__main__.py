"""``python -m services``: serve the deployment under hypercorn (the services image's entry
point; it needs nothing of the control plane)."""

from __future__ import annotations

import argparse

from .serving import serve
from .settings import ServicesConfigError


def main(argv: list[str] | None = None) -> int:
    """Parse ``--bind`` / ``--workers``, build the app (bad settings fail in one line), serve."""
    parser = argparse.ArgumentParser(prog="python -m services", description=__doc__)
    parser.add_argument("--bind", default="0.0.0.0:9080", help="HOST:PORT to listen on")
    parser.add_argument("--workers", type=int, default=1, help="hypercorn worker processes")
    args = parser.parse_args(argv)
    if ":" not in args.bind:
        parser.error(f"--bind: expected HOST:PORT, got {args.bind!r}")
    try:
        import services.app  # noqa: F401 - builds the app now, so bad settings fail here
    except ServicesConfigError as error:
        parser.exit(2, f"error: {error}\n")
    return serve(bind=args.bind, workers=max(args.workers, 1))


if __name__ == "__main__":
    raise SystemExit(main())
