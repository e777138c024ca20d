"""`landlord-restate secrets keygen | check`: a new keyring entry, and the check a key rotation
ends with (every key id an execution in flight needs is in the services' keyring)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sealing import KEYRING_ENV, KEYRING_FILE_ENV, Keyring, KeyringError

from ..manager import Manager
from ..restate import RestateProvider
from .runtime import Output, console, with_manager
from .state import fail, state_of

__all__ = ["missing_keys", "secrets_app"]

secrets_app = typer.Typer(
    help="The secrets keyring both sides hold: make a key, check a rotation.",
    no_args_is_help=True,
)


@secrets_app.command("keygen")
def keygen(
    key_id: Annotated[str, typer.Argument(help="The new key's id, e.g. 2026-12.")],
) -> None:
    """Print a new keyring entry (kid=<key>). Put it first in the services' keyring, then in
    the control plane's: it seals from then on, and the older keys still open."""
    try:
        typer.echo(Keyring.new_entry(key_id))
    except KeyringError as error:
        raise fail(str(error)) from None


def missing_keys(key_ids: list[str]) -> str:
    """The one line `check` fails with."""
    names = ", ".join(repr(kid) for kid in key_ids)
    return (
        f"executions in flight hold secrets under key id {names}, which the keyring does not "
        "hold: put it back until they end"
    )


def _keyring(path: Path | None) -> Keyring:
    try:
        keyring = (
            Keyring.parse(path.read_text(encoding="utf-8"), source=str(path))
            if path is not None
            else Keyring.from_environment()
        )
    except OSError as error:
        raise fail(f"{path}: {error.strerror or error}") from None
    except KeyringError as error:
        raise fail(str(error)) from None
    if keyring is None:
        raise fail(
            f"no keyring to check against: pass --keyring-file, or set {KEYRING_ENV} "
            f"or {KEYRING_FILE_ENV}"
        )
    return keyring


@secrets_app.command("check")
def check(
    ctx: typer.Context,
    keyring_file: Annotated[
        Path | None,
        typer.Option(
            help=f"The services' keyring (default: this environment's {KEYRING_ENV} or "
            f"{KEYRING_FILE_ENV})."
        ),
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json")] = "table",
) -> None:
    """Check that every key id an execution in flight holds a secret under is in the
    services' keyring: exit 0 when it is, 1 naming each missing key id."""
    keyring = _keyring(keyring_file)

    async def read(manager: Manager) -> dict[str, set[str]]:
        restate = manager.registry.get(RestateProvider.name)
        assert isinstance(restate, RestateProvider)
        return await restate.key_ids_in_flight()

    in_flight = with_manager(state_of(ctx), read)
    missing = sorted(kid for kid in in_flight if keyring.key(kid) is None)
    if output == "json":
        document = {
            "keyring": list(keyring.keys),
            "current": keyring.current,
            "in_flight": {kid: len(ids) for kid, ids in sorted(in_flight.items())},
            "missing": missing,
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        table = Table("key id", "executions in flight", "in the keyring", box=None)
        for kid in dict.fromkeys([*keyring.keys, *sorted(in_flight)]):
            held = "current" if kid == keyring.current else "yes"
            table.add_row(kid, str(len(in_flight.get(kid, ()))), held if keyring.key(kid) else "NO")
        console.print(table)
    if missing:
        raise fail(missing_keys(missing), code=1)
