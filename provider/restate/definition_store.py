"""Workflow specs stored durably in Restate: the state of the private `WorkflowDefinitions`
object (one key per workflow id), read by SQL and written through the admin API."""

from __future__ import annotations

import json

from services.contract import DEFINITION_KEY, DEFINITIONS_SERVICE, StoredDefinition

from .._exceptions import ProviderUnavailableError
from ..models import WorkflowSpec
from .admin import AdminApi, sql_string

__all__ = ["DefinitionStore"]


class DefinitionStore:
    """The specs the provider created, each with the revision it was given."""

    def __init__(self, admin: AdminApi) -> None:
        self.admin = admin

    async def record(self, workflow_id: str) -> StoredDefinition | None:
        """The stored definition of one workflow, or None."""
        stored = (await self.admin.state(DEFINITIONS_SERVICE, workflow_id)).get(DEFINITION_KEY)
        return StoredDefinition.model_validate(stored) if stored is not None else None

    async def spec(self, workflow_id: str) -> WorkflowSpec | None:
        """The stored spec, or None; unavailable when the deployment was never registered."""
        record = await self.record(workflow_id)
        if record is None and await self.admin.service(DEFINITIONS_SERVICE) is None:
            raise ProviderUnavailableError(
                self.admin.http.base_url,
                reason=f"{DEFINITIONS_SERVICE} is not registered (register the landlord services)",
            )
        return WorkflowSpec.model_validate(record.spec) if record else None

    async def store(self, spec: WorkflowSpec) -> StoredDefinition:
        """Store `spec`: the same spec again keeps its revision, a changed one gets the next."""
        current = await self.record(spec.workflow_id)
        document = json.loads(spec.model_dump_json())
        if current is not None and current.spec == document:
            return current
        record = StoredDefinition(spec=document, revision=(current.revision if current else 0) + 1)
        await self.admin.set_state(
            DEFINITIONS_SERVICE, spec.workflow_id, {DEFINITION_KEY: record.model_dump(mode="json")}
        )
        return record

    async def drop(self, workflow_id: str) -> None:
        """Forget the workflow's spec."""
        await self.admin.set_state(DEFINITIONS_SERVICE, workflow_id, {})

    async def specs(self) -> list[WorkflowSpec]:
        """Every stored spec."""
        rows = await self.admin.query(
            "SELECT value_utf8 FROM state WHERE service_name = "
            f"{sql_string(DEFINITIONS_SERVICE)} AND key = {sql_string(DEFINITION_KEY)}"
        )
        return [
            WorkflowSpec.model_validate(
                StoredDefinition.model_validate_json(row["value_utf8"]).spec
            )
            for row in rows
        ]
