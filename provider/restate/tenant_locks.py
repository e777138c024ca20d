"""An operator's unlock of a tenant, through the admin API (the lock object is private):
remove the holder from the lock's state and wake those waiting, who then ask again."""

from __future__ import annotations

import time

from services.contract import LOCK_HOLDER_KEY, LOCK_QUEUE_KEY, LOCK_SERVICE, WaitingLine

from .admin import AdminApi
from .ingress import IngressApi

__all__ = ["unlock_tenant"]


async def unlock_tenant(admin: AdminApi, ingress: IngressApi, tenant_id: str) -> str | None:
    """Free `tenant_id` (a validated id) at once; the first in line then gets it. Returns the
    execution name removed, or None when nobody held the tenant."""
    state = await admin.state(LOCK_SERVICE, tenant_id)
    holder = state.get(LOCK_HOLDER_KEY)
    if not isinstance(holder, str):
        return None
    line = WaitingLine.model_validate(state.get(LOCK_QUEUE_KEY) or {})
    kept = {LOCK_QUEUE_KEY: state[LOCK_QUEUE_KEY]} if LOCK_QUEUE_KEY in state else {}
    await admin.set_state(LOCK_SERVICE, tenant_id, kept)
    now = time.time()
    for waiting in line.waiting:
        if waiting.lease_until > now:  # the others gave up, or were killed
            await ingress.resolve_awakeable(waiting.awakeable_id, False)
    return holder
