"""The `step-functions` provider: the landlord workflow interface on AWS Step Functions."""

from .names import MAX_NAME, parse_execution_arn, sfn_execution_name, state_machine_arn
from .provider import StepFunctionsProvider

__all__ = [
    "MAX_NAME",
    "StepFunctionsProvider",
    "parse_execution_arn",
    "sfn_execution_name",
    "state_machine_arn",
]
