"""`services.app:app`: the Restate deployment as an ASGI app (hypercorn serves it), with the
services' own `/metrics`, `/health` and `/live` beside it; with `AWS_LAMBDA_FUNCTION_NAME`
set, the same object is the Lambda handler (Restate's endpoints only)."""

from __future__ import annotations

import restate
from restate._internal import IdentityKeyException
from restate.aws_lambda import is_running_on_lambda

from sealing import KeyringError

from .logs import configure
from .routes import with_routes
from .secrets import services_keyring
from .serving import bound_closed_streams
from .settings import ENV_PREFIX, ServicesConfigError, ServicesSettings, load_services_settings
from .workflows import (
    execution_deadline,
    state_machine,
    state_machine_branch,
    tenant_lock,
    tenant_provisioning,
    workflow_definitions,
)

__all__ = ["SERVICES", "app", "create_app"]

SERVICES: list[restate.Service | restate.VirtualObject | restate.Workflow] = [
    tenant_provisioning,
    tenant_lock,
    workflow_definitions,
    execution_deadline,
    state_machine,
    state_machine_branch,
]


def create_app(settings: ServicesSettings | None = None) -> object:
    """Build the app; request identity verification is on when keys are configured.

    A key the SDK cannot use, or a secrets keyring that cannot be read, raises
    `ServicesConfigError` naming the variable."""
    settings = settings or load_services_settings()
    configure(settings)
    bound_closed_streams()
    try:
        services_keyring()
    except KeyringError as error:
        raise ServicesConfigError(str(error)) from None
    try:
        deployment = restate.app(services=SERVICES, identity_keys=settings.identity_keys or None)
    except IdentityKeyException as error:
        raise ServicesConfigError(f"{ENV_PREFIX}IDENTITY_KEYS: {error}") from None
    return deployment if is_running_on_lambda() else with_routes(deployment)


app = create_app()
