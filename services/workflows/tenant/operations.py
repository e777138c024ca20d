"""The four tenant operations (plan, provision, update, delete), the health wait, the plan diff.

Each operation reads like Restate's saga example: a step that changes the tenant registers its
compensation on the line before it runs. The config's secrets are opened only inside the steps
that hand it to compute (and compare it with what compute holds); what a step brings back has
them masked before it is journaled, or sealed again where a compensation needs them back.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import restate
from pydantic import BaseModel, Field, JsonValue

from ...compute import ComputeBackend, ComputeState, TenantRef
from ...contract import Operation, PlannedChange
from ...secrets import RunSecrets
from .live_status import LiveStatus
from .saga import Saga
from .steps import Stamped, Steps

__all__ = ["STEPS_TOTAL", "Observed", "OperationResult", "Operations", "plan_changes"]

T = TypeVar("T", bound=BaseModel)

OperationResult = tuple[ComputeState, list[PlannedChange]]
"""What an operation leaves: the compute as last observed, and the changes it planned."""

STEPS_TOTAL = {Operation.PLAN: 1, Operation.PROVISION: 2, Operation.UPDATE: 3, Operation.DELETE: 1}
"""How many counted steps each operation has (the status's `steps_total`)."""

_HEALTH_FIRST_INTERVAL = timedelta(milliseconds=250)
_HEALTH_MAX_INTERVAL = timedelta(seconds=2)


class Observed(BaseModel):
    """What the `observe` step journals: the compute as found (secrets sealed, for the update's
    compensation) and what the desired config would change (decided with the secrets open,
    shown masked)."""

    state: ComputeState
    plan: list[PlannedChange] = Field(default_factory=list)


class SecretsChecked(BaseModel):
    """What the `check secrets` step journals: how many secrets opened (never what they hold)."""

    opened: int


def plan_changes(
    current: ComputeState,
    desired: dict[str, JsonValue],
    *,
    shown: Callable[[dict[str, JsonValue]], dict[str, JsonValue]],
) -> list[PlannedChange]:
    """What applying `desired` to `current` would change (no side effects); the detail is
    written through `shown`, which masks secrets."""
    if not current.exists:
        return [PlannedChange(action="create", resource="compute", detail=shown(desired))]
    before, after = shown(current.config), shown(desired)
    changed: dict[str, JsonValue] = {
        key: {"from": before.get(key), "to": after[key]}
        for key, value in desired.items()
        if current.config.get(key) != value
    }
    return [
        PlannedChange(action="update" if changed else "keep", resource="compute", detail=changed)
    ]


def _destroyed(backend: ComputeBackend) -> Callable[[TenantRef], Awaitable[ComputeState]]:
    """`backend.destroy` as a step whose result says the compute is gone."""

    async def destroy(tenant: TenantRef) -> ComputeState:
        await backend.destroy(tenant)
        return ComputeState(exists=False)

    return destroy


class Operations:
    """The operations on one tenant's compute, each step durable and shown in the live status."""

    def __init__(
        self,
        steps: Steps,
        live: LiveStatus,
        saga: Saga,
        *,
        backend: ComputeBackend,
        tenant: TenantRef,
        config: dict[str, JsonValue],
        secrets: RunSecrets,
        health_timeout: timedelta,
    ) -> None:
        self.steps = steps
        self.live = live
        self.saga = saga
        self.backend = backend
        self.tenant = tenant
        self.config = config
        self.secrets = secrets
        self.health_timeout = health_timeout

    async def run(self, operation: Operation) -> OperationResult:
        """Perform `operation`, once every secret it holds is known to open."""
        await self._check_secrets()
        perform = {
            Operation.PLAN: self.plan,
            Operation.PROVISION: self.provision,
            Operation.UPDATE: self.update,
            Operation.DELETE: self.delete,
        }[operation]
        return await perform()

    async def plan(self) -> OperationResult:
        """Observe the compute and say what the desired config would change."""
        observed = await self._observe()
        return observed.state, observed.plan

    async def provision(self) -> OperationResult:
        """Create the compute (undone by destroying it), then wait until it is healthy."""
        name = f"provision {self.backend.name}"
        self.saga.register(name, functools.partial(self.backend.destroy, self.tenant))
        await self._step(name, self._handing(self.backend.provision), result=ComputeState)
        created = plan_changes(ComputeState(exists=False), self.config, shown=self.secrets.masked)
        return await self._wait_healthy(), created

    async def update(self) -> OperationResult:
        """Apply the desired config (undone by restoring the observed one), then wait healthy."""
        observed = await self._observe()
        previous = observed.state

        async def restore() -> None:
            if previous.exists:
                update = functools.partial(self.backend.update, self.tenant)
                await self.secrets.opened(previous.config, update, root="observed_config")
            else:
                await self.backend.destroy(self.tenant)

        name = f"update {self.backend.name}"
        self.saga.register(name, restore)
        await self._step(name, self._handing(self.backend.update), result=ComputeState)
        return await self._wait_healthy(), observed.plan

    async def delete(self) -> OperationResult:
        """Destroy the compute (a destroy cannot be undone: it registers no compensation)."""
        await self._step(
            f"destroy {self.backend.name}",
            _destroyed(self.backend),
            self.tenant,
            result=ComputeState,
        )
        return ComputeState(exists=False), [PlannedChange(action="destroy", resource="compute")]

    def _handing(
        self, call: Callable[[TenantRef, dict[str, JsonValue]], Awaitable[ComputeState]]
    ) -> Callable[[], Awaitable[ComputeState]]:
        """A step's action: `call` the backend with the opened config; what it reports back,
        concealed."""

        async def action() -> ComputeState:
            state = await self.secrets.opened(self.config, functools.partial(call, self.tenant))
            return self.secrets.conceal(state)

        return action

    async def _status(self) -> ComputeState:
        """A step's action: the backend's status of the tenant, concealed."""
        return self.secrets.conceal(await self.backend.status(self.tenant))

    async def _check_secrets(self) -> None:
        """Open every secret once, in a step of its own that journals only how many: a key or
        reference missing here fails the run before any compute call."""
        if not self.secrets.any:
            return

        async def check() -> SecretsChecked:
            await self.secrets.reveal(self.config)
            return SecretsChecked(opened=len(self.secrets.paths))

        await self._step("check secrets", check, result=SecretsChecked, counts=False)

    async def _observe(self) -> Observed:
        """The compute as the backend sees it now, and the plan against it, as a counted step."""

        async def observe() -> Observed:
            desired = await self.secrets.reveal(self.config)
            current = await self.backend.status(self.tenant)
            plan = plan_changes(current, desired, shown=self.secrets.masked)
            return Observed(state=self.secrets.conceal(current, reopenable=True), plan=plan)

        observed = await self._step("observe", observe, result=Observed)
        return observed.value

    async def _step(
        self,
        name: str,
        action: Callable[..., Awaitable[T]],
        *args: Any,
        result: type[T],
        counts: bool = True,
    ) -> Stamped[T]:
        """Show `name` as the current step, run it, and (if it `counts`) count it done at the
        time the step ended."""
        self.live.at_step(name)
        done = await self.steps.run(name, action, *args, result=result)
        if counts:
            self.live.step_done("step completed", at=done.at)
        return done

    async def _wait_healthy(self) -> ComputeState:
        """Poll the backend (each poll a durable step) until healthy or `health_timeout`."""
        waited, interval, checks = timedelta(0), _HEALTH_FIRST_INTERVAL, 0
        state = ComputeState(exists=False)
        while True:
            checks += 1
            checked = await self._step(
                f"health check {checks}", self._status, result=ComputeState, counts=False
            )
            state = checked.value
            if state.healthy:
                self.live.step_done("healthy", state.detail, at=checked.at)
                return state
            if waited >= self.health_timeout:
                raise restate.TerminalError(
                    f"step 'wait healthy' failed: not healthy after "
                    f"{self.health_timeout} ({state.detail or 'no detail'})",
                    status_code=500,
                    metadata={"step": "wait healthy", "outcome": "failed"},
                )
            await self.steps.sleep(interval, "step 'wait healthy'")
            waited += interval
            interval = min(interval * 2, _HEALTH_MAX_INTERVAL)
