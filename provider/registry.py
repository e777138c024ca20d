"""`Registry`: the thread-safe table of providers by name."""

from __future__ import annotations

import builtins
import threading

from ._exceptions import ProviderConflictError, ProviderNotFoundError
from .protocol import Provider

__all__ = ["Registry"]


class Registry:
    """Providers by name; safe to use from several threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._providers: dict[str, Provider] = {}

    def register(self, provider: Provider) -> None:
        """Add a provider; a second provider under the same name is a conflict."""
        with self._lock:
            if provider.name in self._providers:
                raise ProviderConflictError(provider.name)
            self._providers[provider.name] = provider

    def get(self, name: str) -> Provider:
        """The provider registered as `name`, or `ProviderNotFoundError` listing the known ones."""
        with self._lock:
            provider = self._providers.get(name)
            if provider is None:
                raise ProviderNotFoundError(name, registered=sorted(self._providers))
            return provider

    def list(self) -> list[str]:
        """Registered provider names, sorted."""
        with self._lock:
            return sorted(self._providers)

    def has(self, name: str) -> bool:
        """Whether a provider is registered as `name`."""
        with self._lock:
            return name in self._providers

    def providers(self) -> builtins.list[Provider]:
        """The registered providers, in name order."""
        with self._lock:
            return [self._providers[name] for name in sorted(self._providers)]
