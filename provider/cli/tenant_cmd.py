"""`landlord-restate tenant unlock`: operator commands about one tenant on Restate."""

from __future__ import annotations

from typing import Annotated

import typer

from ..manager import Manager
from ..restate import RestateProvider
from .runtime import with_manager
from .state import state_of

__all__ = ["tenant_app"]

tenant_app = typer.Typer(help="Operator commands for one tenant (Restate).", no_args_is_help=True)


@tenant_app.command("unlock")
def unlock(
    ctx: typer.Context,
    tenant_id: Annotated[str, typer.Argument(help="The tenant to free.")],
) -> None:
    """Free a tenant at once: remove the operation holding it, so the next one in line (or
    the next one started) runs. Without this, a holder that can no longer release the tenant
    loses it at its deadline plus the services' lock grace."""

    async def go(manager: Manager) -> str | None:
        restate = manager.registry.get(RestateProvider.name)
        assert isinstance(restate, RestateProvider)
        return await restate.unlock_tenant(tenant_id)

    removed = with_manager(state_of(ctx), go)
    if removed is None:
        typer.echo(f"tenant {tenant_id} is not held by any operation")
    else:
        typer.echo(f"tenant {tenant_id} freed: removed holder {removed}")
