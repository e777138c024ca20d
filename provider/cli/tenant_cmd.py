"""`landlord-restate tenant …`: a tenant's lifecycle as an operator thinks of it.

`plan|provision|update|delete NAME` start the operation on the tenant workflow (named from the
tenant, the operation and the config's hash: a repeat finds the same execution, see
`provider.tenants`); `status NAME` and `list` show phases; `unlock NAME` frees a tenant held by
an operation that cannot release it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from services.contract import Operation

from ..manager import Manager
from ..models import ExecutionStatus
from ..restate import RestateProvider
from ..tenants import Tenants, TenantSummary
from .execution_cmd import WatchOption, exit_for, show_status
from .files import read_mapping
from .runtime import console, echo_fields, emit, with_manager
from .state import fail, state_of
from .watch import watch
from .workflow_cmd import OutputOption, ProviderOption

__all__ = ["tenant_app"]

tenant_app = typer.Typer(
    help="A tenant's lifecycle: plan, provision, update, delete, status, list.",
    no_args_is_help=True,
)
TenantArgument = Annotated[str, typer.Argument(help="The tenant id.", metavar="NAME")]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="The desired config, a YAML or JSON mapping.", metavar="FILE"),
]
ComputeOption = Annotated[
    str | None,
    typer.Option("--compute", help="The compute provider (default: the services' own, local)."),
]


def _operation(operation: Operation) -> Callable[..., None]:
    """The command that runs `operation` on one tenant."""

    def command(
        ctx: typer.Context,
        tenant_id: TenantArgument,
        config: ConfigOption = None,
        compute: ComputeOption = None,
        watch_it: WatchOption = False,
        provider: ProviderOption = None,
        output: OutputOption = "table",
    ) -> None:
        desired = read_mapping(config, holding="desired config settings") if config else None

        async def go(manager: Manager) -> ExecutionStatus:
            started = await Tenants(manager, provider_type=provider).start(
                tenant_id, operation, desired_config=desired, compute_provider=compute
            )
            typer.echo(
                f"{operation} of tenant {tenant_id!r}: {started.message}: {started.execution_id}",
                err=True,
            )
            if watch_it:
                return await watch(
                    manager, started.execution_id, provider_type=provider, quiet=output == "json"
                )
            return await manager.get_execution_status(started.execution_id, provider_type=provider)

        status = with_manager(state_of(ctx), go)
        show_status(status, output)
        exit_for(status.state)

    return command


for _each in Operation:
    tenant_app.command(
        _each.value,
        help=f"Start the tenant's {_each.value} (a repeat of the latest one finds it again); "
        "exit 3 when it ended in any state but succeeded.",
    )(_operation(_each))


def _summaries(found: list[TenantSummary]) -> None:
    grid = Table("tenant", "phase", "operation", "state", "started", "execution", box=None)
    for item in found:
        grid.add_row(
            item.tenant_id, item.phase, item.operation, item.state.value, item.started or "",
            item.execution_id,
        )  # fmt: skip
    console.print(grid)


@tenant_app.command("status")
def status(
    ctx: typer.Context,
    tenant_id: TenantArgument,
    provider: ProviderOption = None,
    output: OutputOption = "table",
) -> None:
    """The tenant's phase and its latest operation (exit 1 when it has none, 3 when that
    operation ended in any state but succeeded)."""
    found = with_manager(
        state_of(ctx), lambda manager: Tenants(manager, provider_type=provider).latest(tenant_id)
    )
    if found is None:
        raise fail(f"tenant {tenant_id!r} has no operations", code=1)

    def table() -> None:
        echo_fields(
            [
                ("tenant", found.tenant_id),
                ("phase", found.phase),
                ("operation", found.operation),
                ("state", found.state.value),
                ("started", found.started),
                ("execution", found.execution_id),
                ("error", found.error),
            ]
        )

    emit(found, output=output, table=table)
    exit_for(found.state)


@tenant_app.command("list")
def list_(
    ctx: typer.Context, provider: ProviderOption = None, output: OutputOption = "table"
) -> None:
    """Every tenant with an operation, with its phase and latest operation."""
    found = with_manager(
        state_of(ctx), lambda manager: Tenants(manager, provider_type=provider).list()
    )
    emit(found, output=output, table=lambda: _summaries(found))


@tenant_app.command("unlock")
def unlock(ctx: typer.Context, tenant_id: TenantArgument, output: OutputOption = "table") -> None:
    """Free a tenant at once: remove the operation holding it, so the next one in line (or
    the next one started) runs. Without this, a holder that can no longer release the tenant
    loses it at its deadline plus the services' lock grace (Restate only)."""

    async def go(manager: Manager) -> str | None:
        restate = manager.registry.get(RestateProvider.name)
        assert isinstance(restate, RestateProvider)
        return await restate.unlock_tenant(tenant_id)

    removed = with_manager(state_of(ctx), go)
    if output == "json":
        typer.echo(json.dumps({"tenant_id": tenant_id, "removed": removed}, indent=2))
    elif removed is None:
        typer.echo(f"tenant {tenant_id} is not held by any operation")
    else:
        typer.echo(f"tenant {tenant_id} freed: removed holder {removed}")
