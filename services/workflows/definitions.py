"""`WorkflowDefinitions`: landlord workflow definitions stored durably in Restate, one virtual
object per workflow id, so a provider can write, read back and drop them."""

from __future__ import annotations

import restate
from pydantic import BaseModel, JsonValue

__all__ = ["StoredDefinition", "workflow_definitions"]

workflow_definitions = restate.VirtualObject(
    "WorkflowDefinitions",
    description="Landlord workflow specs, keyed by workflow id (written by the provider).",
)


class StoredDefinition(BaseModel):
    """A workflow spec as the provider stored it, with the revision it was given."""

    spec: dict[str, JsonValue]
    revision: int = 0


@workflow_definitions.handler()
async def put(ctx: restate.ObjectContext, spec: dict[str, JsonValue]) -> StoredDefinition:
    """Store `spec`; the same spec again keeps its revision, a changed one gets the next."""
    current = await ctx.get("definition", type_hint=StoredDefinition)
    if current is not None and current.spec == spec:
        return current
    stored = StoredDefinition(spec=spec, revision=(current.revision if current else 0) + 1)
    ctx.set("definition", stored)
    return stored


@workflow_definitions.handler(kind="shared")
async def get(ctx: restate.ObjectSharedContext) -> StoredDefinition | None:
    """The stored definition, or None."""
    return await ctx.get("definition", type_hint=StoredDefinition)


@workflow_definitions.handler()
async def drop(ctx: restate.ObjectContext) -> bool:
    """Forget the definition; True when there was one."""
    existed = await ctx.get("definition", type_hint=StoredDefinition) is not None
    ctx.clear("definition")
    return existed
