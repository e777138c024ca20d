"""The Restate workflows and objects this deployment serves."""

from .definitions import workflow_definitions
from .tenant_lock import tenant_lock
from .tenant_provisioning import tenant_provisioning

__all__ = ["tenant_lock", "tenant_provisioning", "workflow_definitions"]
