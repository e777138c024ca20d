"""The `restate` provider: the landlord workflow interface over Restate's admin API and ingress."""

from .provider import BUILTIN_WORKFLOW_ID, RestateProvider
from .registration import register_tenant_workflow, tenant_workflow_spec

__all__ = [
    "BUILTIN_WORKFLOW_ID",
    "RestateProvider",
    "register_tenant_workflow",
    "tenant_workflow_spec",
]
