"""`landlord-restate identity-key`: the request-signing key pair for a Restate server and the
public key id its services must be given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..restate.identity import IdentityKeyError, ensure_identity_key
from .state import fail

__all__ = ["identity_key"]


def identity_key(
    private_key: Annotated[
        Path, typer.Argument(help="PEM file restate-server signs with (made if missing).")
    ],
    public_out: Annotated[
        Path | None,
        typer.Option(
            help="Also write the public key id here (for LANDLORD_SERVICES_IDENTITY_KEYS_FILE)."
        ),
    ] = None,
) -> None:
    """Make (once) the ed25519 key restate-server signs requests with; print its public key id."""
    try:
        found, made = ensure_identity_key(private_key)
    except IdentityKeyError as error:
        raise fail(f"{private_key}: {error}") from None
    except OSError as error:
        raise fail(f"{private_key}: {error.strerror or error}") from None
    if public_out is not None:
        public_out.write_text(found + "\n", encoding="ascii")
    typer.echo(f"{'made' if made else 'kept'} {private_key}", err=True)
    typer.echo(found)
