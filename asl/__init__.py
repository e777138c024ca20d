"""Amazon States Language (JSONPath flavour): one interpreter for the providers that run an ASL
definition themselves, through a `Runtime` that does what the machine cannot do by itself. The
mock runs it in memory (`MemoryRuntime`); the deployment runs it durably on Restate. Shared
by the control plane and the deployment, so it imports neither.

Pieces: reference paths, payload templates, intrinsic functions, Choice rules, Retry / Catch,
the checks a definition must pass, the Task resources, the interpreter."""

from ._exceptions import DefinitionError, StatesError
from .checks import STATE_TYPES, check, is_state_machine, problems, transitions
from .choice import COMPARISONS, TESTS, matches
from .dataflow import effective_input, payload, state_output
from .interpreter import MAX_TRANSITIONS, execute
from .intrinsics import FUNCTIONS, Randomness, evaluate, is_intrinsic, system_randomness
from .memory import Event, MemoryRuntime, TaskHandler, run_in_memory
from .paths import is_path, read, write
from .resources import HTTP_INVOKE, LAMBDA_INVOKE, Resource, call_http, call_lambda, resource_of
from .runtime import Branch, Execution, Runtime
from .timestamps import format_timestamp, parse_timestamp

__all__ = [
    "COMPARISONS",
    "FUNCTIONS",
    "HTTP_INVOKE",
    "LAMBDA_INVOKE",
    "MAX_TRANSITIONS",
    "STATE_TYPES",
    "TESTS",
    "Branch",
    "DefinitionError",
    "Event",
    "Execution",
    "MemoryRuntime",
    "Randomness",
    "Resource",
    "Runtime",
    "StatesError",
    "TaskHandler",
    "call_http",
    "call_lambda",
    "check",
    "effective_input",
    "evaluate",
    "execute",
    "format_timestamp",
    "is_intrinsic",
    "is_path",
    "is_state_machine",
    "matches",
    "parse_timestamp",
    "payload",
    "problems",
    "read",
    "resource_of",
    "run_in_memory",
    "state_output",
    "system_randomness",
    "transitions",
    "write",
]
