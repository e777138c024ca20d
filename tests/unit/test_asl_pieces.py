"""The ASL pieces moto cannot be asked about: paths refused, intrinsic calls that do not
parse, and the randomness a durable runtime supplies."""

from __future__ import annotations

from typing import Any

import pytest

from asl import StatesError, evaluate, read, run_in_memory, write


class Fixed:
    """Randomness a replay would repeat."""

    def uuid4(self) -> str:
        return "00000000-0000-4000-8000-000000000000"

    def randint(self, start: int, end: int) -> int:
        return start


def test_uuid_and_random_come_from_the_given_randomness() -> None:
    assert evaluate("States.UUID()", {}, randomness=Fixed()) == Fixed().uuid4()
    assert evaluate("States.MathRandom(3, 9)", {}, randomness=Fixed()) == 3
    value = evaluate("States.MathRandom(3, 9)", {})
    assert 3 <= value < 9


@pytest.mark.parametrize(
    ("call", "rule"),
    [
        ("States.Nope(1)", "is not an intrinsic function"),
        ("States.Format('{}'", "missing a closing parenthesis"),
        ("States.Format('{} {}', 1)", "2 placeholders, 1 values"),
        ("States.MathAdd(1, 'x')", "needs an integer"),
        ("States.Hash('a', 'CRC')", "the algorithm must be one of"),
        ("States.StringToJson('{')", "not a JSON string"),
    ],
)
def test_a_bad_intrinsic_call_is_an_intrinsic_failure(call: str, rule: str) -> None:
    with pytest.raises(StatesError) as failed:
        evaluate(call, {})
    assert failed.value.error == "States.IntrinsicFailure"
    assert rule in failed.value.cause


@pytest.mark.parametrize("path", ["$.items[*]", "$..a", "$.a[?(@.b)]", "a.b"])
def test_only_reference_paths_are_read(path: str) -> None:
    with pytest.raises(StatesError) as failed:
        read(path, {"items": [1], "a": {"b": 1}})
    assert failed.value.error == "States.Runtime"


def test_a_result_path_into_a_non_object_is_a_match_failure() -> None:
    with pytest.raises(StatesError) as failed:
        write("$.x", [1, 2], 3)
    assert failed.value.error == "States.ResultPathMatchFailure"
    assert write("$", [1, 2], 3) == 3


async def test_a_loop_ends_at_the_transition_limit() -> None:
    machine: dict[str, Any] = {
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.stop", "IsPresent": True, "Next": "Done"}],
                "Default": "A",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    with pytest.raises(StatesError, match="state transitions"):
        await run_in_memory(machine, {})
