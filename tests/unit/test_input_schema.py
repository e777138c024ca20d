"""InputSchema: every rule a handler's published JSON schema can break is named as field +
rule, and no value is ever echoed back (an input may carry secrets)."""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from provider import InvalidSpecError
from provider.restate.input_schema import InputSchema
from services.contract import ProvisionRequest

SECRET = "hunter2-do-not-echo"
SCHEMA: dict[str, JsonValue] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 3},
        "count": {"type": "integer", "minimum": 1, "exclusiveMaximum": 10},
        "tags": {"type": "array", "maxItems": 1},
        "kind": {"const": "tenant"},
    },
}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"name": SECRET}, "input.name: must be at most 3 characters"),
        ({"count": 0}, "input.count: must be >= 1"),
        ({"count": 10}, "input.count: must be < 10"),
        ({"count": SECRET}, "input.count: must be a JSON integer"),
        ({"tags": [SECRET, SECRET]}, "input.tags: must have at most 1 items"),
        ({"kind": SECRET}, "input.kind: must be 'tenant'"),
    ],
)
def test_each_rule_is_named_without_the_value(value: JsonValue, problem: str) -> None:
    with pytest.raises(InvalidSpecError) as raised:
        InputSchema(SCHEMA).check(value)
    assert [str(p) for p in raised.value.problems] == [problem]
    assert SECRET not in str(raised.value)


def test_an_untyped_handler_accepts_anything() -> None:
    InputSchema(True).check({"anything": [1, 2, SECRET]})
    InputSchema(None).check("text")


def test_the_provision_request_schema_accepts_what_the_services_accept() -> None:
    schema = InputSchema(ProvisionRequest.model_json_schema())
    for timeout in ("30m", "1h30m", "500ms", "45", 90, 1.5):
        schema.check({"tenant_id": "acme", "operation": "provision", "timeout": timeout})
        ProvisionRequest.model_validate(
            {"tenant_id": "acme", "operation": "plan", "timeout": timeout}
        )
    with pytest.raises(InvalidSpecError) as raised:
        schema.check({"tenant_id": "acme", "operation": "plan", "desired_config": [SECRET]})
    assert [str(p) for p in raised.value.problems] == [
        "input.desired_config: must be a JSON object"
    ]
