"""`ConfigError`: configuration that cannot be used, as one line naming each key."""

from __future__ import annotations

from .._exceptions import Problem

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """Settings failed to load or validate; `problems` names each key and the rule it broke."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(str(p) for p in problems))

    @classmethod
    def single(cls, key: str, rule: str) -> ConfigError:
        """Shorthand for an error about one key (or, with an empty key, about a source)."""
        return cls([Problem(key, rule)])
