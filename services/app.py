"""`services.app:app`: the Restate deployment as an ASGI app (hypercorn serves it); with
`AWS_LAMBDA_FUNCTION_NAME` set, the same object is the Lambda handler."""

from __future__ import annotations

import restate

from .logs import configure
from .settings import ServicesSettings
from .workflows import tenant_lock, tenant_provisioning

__all__ = ["SERVICES", "app", "create_app"]

SERVICES: list[restate.Service | restate.VirtualObject | restate.Workflow] = [
    tenant_provisioning,
    tenant_lock,
]


def create_app(settings: ServicesSettings | None = None) -> object:
    """Build the app; request identity verification is on when keys are configured."""
    settings = settings or ServicesSettings()
    configure(settings)
    return restate.app(services=SERVICES, identity_keys=settings.identity_keys or None)


app = create_app()
