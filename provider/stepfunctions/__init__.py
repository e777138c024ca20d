"""The `step-functions` provider: the landlord workflow interface on AWS Step Functions."""

from .asl import STATE_TYPES, check_definition
from .names import MAX_NAME, parse_execution_arn, sfn_execution_name, state_machine_arn
from .provider import StepFunctionsProvider

__all__ = [
    "MAX_NAME",
    "STATE_TYPES",
    "StepFunctionsProvider",
    "check_definition",
    "parse_execution_arn",
    "sfn_execution_name",
    "state_machine_arn",
]
