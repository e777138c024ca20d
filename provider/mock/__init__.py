"""The in-memory `mock` provider: the full contract, scripted behaviour, no backend."""

from .behavior import MockBehavior, Outcome
from .provider import MockProvider

__all__ = ["MockBehavior", "MockProvider", "Outcome"]
