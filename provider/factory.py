"""Build the `Manager` a process uses from its settings: which providers exist, which is default."""

from __future__ import annotations

from .config import Settings
from .manager import Manager
from .mock import MockProvider
from .registry import Registry
from .restate import RestateProvider

__all__ = ["build_manager"]


def build_manager(settings: Settings) -> Manager:
    """A manager with every provider these settings make available. Nothing connects yet:
    providers reach their backends on first use. `step-functions` is there when its extra
    (boto3) is installed."""
    registry = Registry()
    registry.register(MockProvider())
    registry.register(RestateProvider(settings.workflow.restate))
    try:
        from .stepfunctions import StepFunctionsProvider
    except ImportError:  # pip install 'landlord-restate[step-functions]'
        pass
    else:
        registry.register(StepFunctionsProvider(settings.workflow.step_functions))
    return Manager(registry, default_provider=settings.workflow.default_provider)
