"""`provider.Tenants` on the mock: a repeat of a tenant's latest operation is that execution,
a changed config or a request after something else ran is a new one, a bad request is refused
before anything starts, and a tenant's phase is read from its latest operation."""

from __future__ import annotations

from typing import Any

import pytest

from provider import InvalidSpecError, Manager, Registry, Tenants, WorkflowSpec
from provider.mock import MockBehavior, MockProvider
from provider.tenants import operation_name, request_digest
from services.contract import TENANT_WORKFLOW_ID


@pytest.fixture
async def setup() -> tuple[MockProvider, Tenants]:
    mock = MockProvider()
    registry = Registry()
    registry.register(mock)
    manager = Manager(registry, default_provider="mock")
    await manager.create_workflow(
        WorkflowSpec(workflow_id=TENANT_WORKFLOW_ID, definition={"steps": ["provision"]})
    )
    return mock, Tenants(manager)


async def test_a_repeat_finds_the_same_execution_and_a_changed_config_starts_another(
    setup: tuple[MockProvider, Tenants],
) -> None:
    _, tenants = setup
    first = await tenants.start("acme", "provision", desired_config={"image": "a", "replicas": 1})
    again = await tenants.start("acme", "provision", desired_config={"replicas": 1, "image": "a"})
    assert again.execution_id == first.execution_id
    changed = await tenants.start("acme", "provision", desired_config={"image": "b"})
    assert changed.execution_id != first.execution_id
    names = [s.execution_name for s in await tenants.operations("acme")]
    assert len(names) == 2
    assert all(name.startswith("acme-provision-") for name in names)


async def test_the_same_request_after_another_operation_is_a_new_generation(
    setup: tuple[MockProvider, Tenants],
) -> None:
    _, tenants = setup
    config: dict[str, Any] = {"image": "a"}
    first = await tenants.start("acme", "provision", desired_config=config)
    await tenants.start("acme", "delete")
    again = await tenants.start("acme", "provision", desired_config=config)
    assert again.execution_id != first.execution_id
    base = operation_name(
        "acme",
        "provision",
        request_digest(
            {
                "tenant_id": "acme",
                "operation": "provision",
                "desired_config": config,
                "compute_provider": "local",
            }
        ),
    )
    newest, deleted, oldest = [s.execution_name for s in await tenants.operations("acme")]
    assert (newest, oldest) == (f"{base}-2", base)
    assert deleted.startswith("acme-delete-")
    assert (await tenants.start("acme", "provision", desired_config=config)).execution_id == (
        again.execution_id
    )


@pytest.mark.parametrize(
    ("tenant", "operation", "field"),
    [("bad id!", "provision", "tenant_id"), ("acme", "rebuild", "operation")],
)
async def test_a_bad_request_is_refused_and_nothing_starts(
    setup: tuple[MockProvider, Tenants], tenant: str, operation: str, field: str
) -> None:
    _, tenants = setup
    with pytest.raises(InvalidSpecError) as refused:
        await tenants.start(tenant, operation)
    assert [p.field for p in refused.value.problems] == [field]
    assert await tenants.operations() == []


async def test_a_long_dotted_tenant_id_makes_a_valid_name_of_its_own(
    setup: tuple[MockProvider, Tenants],
) -> None:
    _, tenants = setup
    long_a, long_b = "a." * 30 + "x", "a_" * 30 + "x"
    one = await tenants.start(long_a, "plan")
    other = await tenants.start(long_b, "plan")
    assert one.execution_id != other.execution_id
    names = {s.execution_name for s in await tenants.operations()}
    assert all(len(name) <= 80 for name in names)
    assert {s.tenant_id for s in await tenants.list()} == {long_a, long_b}


async def test_the_phase_comes_from_the_latest_operation(
    setup: tuple[MockProvider, Tenants],
) -> None:
    mock, tenants = setup
    assert await tenants.latest("acme") is None
    mock.set_behavior(TENANT_WORKFLOW_ID, MockBehavior.succeed(output={"phase": "ready"}))
    await tenants.start("acme", "provision")
    assert (await tenants.latest("acme")).phase == "ready"  # type: ignore[union-attr]

    mock.set_behavior(TENANT_WORKFLOW_ID, MockBehavior.stay_pending())
    await tenants.start("acme", "update", desired_config={"image": "b"})
    running = await tenants.latest("acme")
    assert running is not None
    assert (running.operation, running.phase) == ("update", "updating")

    mock.set_behavior(TENANT_WORKFLOW_ID, MockBehavior.fail(code="Quota", message="no room"))
    await tenants.start("other", "provision")
    listed = {s.tenant_id: (s.operation, s.phase, s.error) for s in await tenants.list()}
    assert listed == {
        "acme": ("update", "updating", None),
        "other": ("provision", "failed", "[Quota] no room"),
    }
