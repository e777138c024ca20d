"""`WorkflowDefinitions`: landlord workflow definitions stored durably in Restate, one private
virtual object per workflow id. The control plane writes and drops them through the admin API
(`POST /services/WorkflowDefinitions/state`), the operator's trust boundary; nothing reachable
through the ingress can change one."""

from __future__ import annotations

import restate

from ..contract import DEFINITION_KEY, DEFINITIONS_SERVICE, StoredDefinition

__all__ = ["get", "workflow_definitions"]

workflow_definitions = restate.VirtualObject(
    DEFINITIONS_SERVICE,
    description="Landlord workflow specs, keyed by workflow id (written by the control plane).",
    ingress_private=True,
)


@workflow_definitions.handler(kind="shared")
async def get(ctx: restate.ObjectSharedContext) -> StoredDefinition | None:
    """The stored definition, or None (for the deployment's own workflows)."""
    return await ctx.get(DEFINITION_KEY, type_hint=StoredDefinition)
