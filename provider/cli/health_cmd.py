"""`landlord-restate health`: whether the provider can run its workflows (exit 0), or not (1)."""

from __future__ import annotations

import typer

from ..models import ProviderHealth
from .runtime import emit, with_manager
from .state import state_of
from .workflow_cmd import OutputOption, ProviderOption

__all__ = ["health"]


def _lines(report: ProviderHealth) -> None:
    typer.echo(f"{report.provider_type}: {'healthy' if report.healthy else 'unhealthy'}")
    for check in report.checks:
        typer.echo(f"  {'ok' if check.ok else 'FAIL':<5}{check.name}: {check.detail}")
    if report.workflows:
        typer.echo("workflows:")
    for workflow_id, available in report.workflows.items():
        state = "available" if available else "not registered or not public"
        typer.echo(f"  {'ok' if available else 'FAIL':<5}{workflow_id}: {state}")


def health(
    ctx: typer.Context, provider: ProviderOption = None, output: OutputOption = "table"
) -> None:
    """Check the provider: for Restate the admin API, the ingress, the server version, each
    deployment (reached by Restate) and each stored workflow's service. Exit 1 if any fails."""
    report = with_manager(state_of(ctx), lambda manager: manager.health(provider_type=provider))
    emit(report, output=output, table=lambda: _lines(report))
    if not report.healthy:
        raise typer.Exit(1)
