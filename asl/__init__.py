"""Amazon States Language (JSONPath flavour), for the providers that run an ASL definition
themselves: reference paths, payload templates, intrinsic functions, Choice rules, and a
runner for the states that need no runtime of their own. Shared by the control plane (the
mock provider) and the deployment (a durable runtime), so it imports neither."""

from ._exceptions import DefinitionError, StatesError
from .choice import COMPARISONS, TESTS, matches
from .dataflow import effective_input, payload, state_output
from .intrinsics import FUNCTIONS, Randomness, evaluate, is_intrinsic
from .machine import RUNS_IN_MEMORY, check, run_in_memory
from .paths import is_path, read, write

__all__ = [
    "COMPARISONS",
    "FUNCTIONS",
    "RUNS_IN_MEMORY",
    "TESTS",
    "DefinitionError",
    "Randomness",
    "StatesError",
    "check",
    "effective_input",
    "evaluate",
    "is_intrinsic",
    "is_path",
    "matches",
    "payload",
    "read",
    "run_in_memory",
    "state_output",
    "write",
]
