"""Landlord names and ids ↔ Step Functions names and ARNs: derived, checked, never pasted raw.

State machine name = workflow id. Step Functions names are 1-80 characters, so a workflow id
longer than 80 characters (landlord allows 128) is refused rather than mapped: a state
machine's name is what operators look for in the console.

Execution names are mapped. Landlord allows `^[A-Za-z0-9_-]{1,128}$`, Step Functions 1-80
characters, so a name of up to 80 characters is used as it is, and a longer one becomes its
first 63 characters, `-`, and the first 16 hex digits of the SHA-256 of the whole name (80
characters). The mapping is deterministic, so retrying a start with the same long name finds
the same execution. Two long names collide only if they share the first 63 characters and 64
bits of their hashes (about 2^-64 per pair): impossible in practice. A short name that
literally has the shape of another name's mapped form would be taken for it; names that
landlord generates never have that shape, and a same-name start with a different input still
raises `ExecutionConflictError`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .._exceptions import ExecutionNotFoundError, InvalidSpecError

__all__ = [
    "EXECUTION_ARN",
    "MAX_NAME",
    "ExecutionArn",
    "execution_arn_for",
    "parse_execution_arn",
    "sfn_execution_name",
    "state_machine_arn",
    "state_machine_name",
]

MAX_NAME = 80
_PREFIX = 63
_HASH_HEX = 16
_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/")
EXECUTION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):states:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<kind>execution|express):(?P<machine>[A-Za-z0-9_-]{1,80}):(?P<name>[A-Za-z0-9_-]{1,80})"
    r"(?::[0-9a-f-]{36})?$"
)


def state_machine_name(workflow_id: str) -> str:
    """The state machine a workflow is: its id, which must fit Step Functions' 80 characters."""
    if len(workflow_id) > MAX_NAME:
        raise InvalidSpecError.single(
            "workflow_id",
            f"Step Functions names state machines with at most {MAX_NAME} characters",
        )
    return workflow_id


def sfn_execution_name(execution_name: str) -> str:
    """The Step Functions name of a landlord execution name (see the module docstring)."""
    if len(execution_name) <= MAX_NAME:
        return execution_name
    digest = hashlib.sha256(execution_name.encode()).hexdigest()[:_HASH_HEX]
    return f"{execution_name[:_PREFIX]}-{digest}"


def state_machine_arn(*, role_arn: str, region: str, workflow_id: str) -> str:
    """The ARN of a workflow's state machine, in the account and partition of the role it runs
    as (IAM passes roles only within their account, so that is where the machine lives)."""
    match = _ROLE_ARN.match(role_arn)
    if match is None:
        raise ValueError("role_arn must be an IAM role ARN")
    partition, account = match.groups()
    name = state_machine_name(workflow_id)
    return f"arn:{partition}:states:{region}:{account}:stateMachine:{name}"


def execution_arn_for(machine_arn: str, sfn_name: str) -> str:
    """The ARN Step Functions gives a STANDARD execution of `machine_arn` named `sfn_name`."""
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{sfn_name}"


@dataclass(frozen=True, slots=True)
class ExecutionArn:
    """The parts of an execution ARN that name its state machine (= workflow id)."""

    arn: str
    region: str
    workflow_id: str
    name: str
    express: bool

    @property
    def machine_arn(self) -> str:
        """The ARN of the state machine this execution belongs to."""
        prefix = self.arn.split(":execution:" if not self.express else ":express:", 1)[0]
        return f"{prefix}:stateMachine:{self.workflow_id}"


def parse_execution_arn(execution_id: str) -> ExecutionArn:
    """An execution id is an execution ARN; anything else cannot name an execution."""
    match = EXECUTION_ARN.fullmatch(execution_id)
    if match is None:
        raise ExecutionNotFoundError(execution_id)
    return ExecutionArn(
        arn=execution_id,
        region=match["region"],
        workflow_id=match["machine"],
        name=match["name"],
        express=match["kind"] == "express",
    )
