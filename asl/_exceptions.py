"""How an ASL state machine fails: as the specification names it.

StatesError                 a run-time error with its ASL name (`States.Runtime`, …)
DefinitionError             a definition that breaks the specification (refused up front)
"""

from __future__ import annotations

__all__ = ["DefinitionError", "StatesError"]


class StatesError(Exception):
    """A run-time error, named as the specification names it (`error`), with its `cause`."""

    def __init__(self, error: str, cause: str) -> None:
        self.error = error
        self.cause = cause
        super().__init__(f"{error}: {cause}")


class DefinitionError(ValueError):
    """A definition the specification does not allow: the state (or field) and the rule."""

    def __init__(self, where: str, rule: str) -> None:
        self.where = where
        self.rule = rule
        super().__init__(f"{where}: {rule}" if where else rule)
