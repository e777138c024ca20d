"""The Restate workflows and objects this deployment serves."""

from .deadline import execution_deadline
from .definitions import workflow_definitions
from .state_machine import state_machine, state_machine_branch
from .tenant_lock import tenant_lock
from .tenant_provisioning import tenant_provisioning

__all__ = [
    "execution_deadline",
    "state_machine",
    "state_machine_branch",
    "tenant_lock",
    "tenant_provisioning",
    "workflow_definitions",
]
