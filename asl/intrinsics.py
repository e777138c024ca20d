"""The intrinsic functions of the specification (`States.Format('{} {}', $.a, 'b')`, …): a
small parser for the call syntax, and each function. Failures are `States.IntrinsicFailure`.

`States.UUID` and `States.MathRandom` take their randomness from the caller (`Randomness`), so
that a durable runtime can make them the same on every replay."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ._exceptions import StatesError
from .paths import parse, read

__all__ = [
    "FUNCTIONS",
    "Randomness",
    "check_call",
    "evaluate",
    "is_intrinsic",
    "system_randomness",
]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:\\.|[^'\\])*')
      | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
      | (?P<path>\$\$?[^,()\s]*)
      | (?P<name>States\.[A-Za-z0-9]+)
      | (?P<literal>true|false|null)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


class Randomness(Protocol):
    """Where `States.UUID` and `States.MathRandom` draw from."""

    def uuid4(self) -> str:
        """A version-4 UUID."""
        ...

    def randint(self, start: int, end: int) -> int:
        """An integer in [start, end)."""
        ...


class _System:
    def uuid4(self) -> str:
        return str(uuid.uuid4())

    def randint(self, start: int, end: int) -> int:
        return random.randrange(start, end)  # noqa: S311 - not for security


def system_randomness() -> Randomness:
    """Randomness from the system (for a runtime that need not replay)."""
    return _System()


def is_intrinsic(text: object) -> bool:
    """Whether `text` is an intrinsic call (`States.Name(…)`)."""
    return isinstance(text, str) and text.startswith("States.")


@dataclass
class _Call:
    name: str
    args: list[Any]


@dataclass
class _Path:
    path: str


def _fail(message: str) -> StatesError:
    return StatesError("States.IntrinsicFailure", message)


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _parse(text: str) -> _Call:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _fail(f"{text!r} is not a valid intrinsic call (at position {position})")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    call, rest = _call(tokens, text)
    if rest:
        raise _fail(f"{text!r} has text after its call")
    return call


def _call(tokens: list[tuple[str, str]], text: str) -> tuple[_Call, list[tuple[str, str]]]:
    if len(tokens) < 3 or tokens[0][0] != "name" or tokens[1] != ("punct", "("):
        raise _fail(f"{text!r} is not a valid intrinsic call")
    name, rest = tokens[0][1], tokens[2:]
    args: list[Any] = []
    if rest and rest[0] == ("punct", ")"):
        return _Call(name, args), rest[1:]
    while rest:
        kind, value = rest[0]
        if kind == "name":
            nested, rest = _call(rest, text)
            args.append(nested)
        elif kind == "string":
            args.append(_unquote(value))
            rest = rest[1:]
        elif kind in ("number", "literal"):
            args.append(json.loads(value))
            rest = rest[1:]
        elif kind == "path":
            args.append(_Path(value))
            rest = rest[1:]
        else:
            raise _fail(f"{text!r}: unexpected {value!r}")
        if not rest:
            break
        if rest[0] == ("punct", ")"):
            return _Call(name, args), rest[1:]
        if rest[0] != ("punct", ","):
            raise _fail(f"{text!r}: expected , or ) after an argument")
        rest = rest[1:]
    raise _fail(f"{text!r} is missing a closing parenthesis")


def check_call(text: str) -> None:
    """Refuse (`ValueError`, naming the rule) a call that does not parse, names a function
    that does not exist, or passes a path that is not a reference path."""

    def walk(call: _Call) -> None:
        if call.name not in FUNCTIONS:
            raise ValueError(f"{call.name} is not an intrinsic function")
        for arg in call.args:
            if isinstance(arg, _Call):
                walk(arg)
            elif isinstance(arg, _Path):
                parse(arg.path)

    try:
        walk(_parse(text))
    except StatesError as error:
        raise ValueError(error.cause) from None


def evaluate(
    text: str, document: Any, context: Any = None, *, randomness: Randomness | None = None
) -> Any:
    """The value of the intrinsic call `text` against `document` and `context`."""
    source = randomness or _System()

    def value_of(arg: Any) -> Any:
        if isinstance(arg, _Path):
            return read(arg.path, document, context)
        if isinstance(arg, _Call):
            function = FUNCTIONS.get(arg.name)
            if function is None:
                raise _fail(f"{arg.name} is not an intrinsic function")
            return function([value_of(a) for a in arg.args], source)
        return arg

    return value_of(_parse(text))


def _arity(name: str, args: list[Any], *counts: int) -> None:
    if len(args) not in counts:
        wanted = " or ".join(str(c) for c in counts)
        raise _fail(f"{name} takes {wanted} arguments, not {len(args)}")


def _format(args: list[Any], _: Randomness) -> str:
    if not args or not isinstance(args[0], str):
        raise _fail("States.Format needs a template string first")
    template, values = args[0], args[1:]
    pieces = re.split(r"(?<!\\)\{\}", template)
    if len(pieces) - 1 != len(values):
        raise _fail(
            f"States.Format: the template has {len(pieces) - 1} placeholders, "
            f"{len(values)} values were given"
        )
    out = pieces[0]
    for value, piece in zip(values, pieces[1:], strict=True):
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        out += shown + piece
    return out.replace("\\{", "{").replace("\\}", "}")


def _string_to_json(args: list[Any], _: Randomness) -> Any:
    _arity("States.StringToJson", args, 1)
    try:
        return json.loads(args[0])
    except (TypeError, ValueError):
        raise _fail("States.StringToJson: the argument is not a JSON string") from None


def _json_to_string(args: list[Any], _: Randomness) -> str:
    _arity("States.JsonToString", args, 1)
    return json.dumps(args[0], separators=(",", ":"))


def _array(args: list[Any], _: Randomness) -> list[Any]:
    return list(args)


def _list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(f"{name} needs an array")
    return value


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise _fail(f"{name} needs an integer")
    return int(value)


def _array_partition(args: list[Any], _: Randomness) -> list[Any]:
    _arity("States.ArrayPartition", args, 2)
    items, size = _list("States.ArrayPartition", args[0]), _int("States.ArrayPartition", args[1])
    if size <= 0:
        raise _fail("States.ArrayPartition needs a chunk size above 0")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _array_contains(args: list[Any], _: Randomness) -> bool:
    _arity("States.ArrayContains", args, 2)
    return args[1] in _list("States.ArrayContains", args[0])


def _array_range(args: list[Any], _: Randomness) -> list[int]:
    _arity("States.ArrayRange", args, 3)
    start, end, step = (_int("States.ArrayRange", a) for a in args)
    if step == 0:
        raise _fail("States.ArrayRange needs a step other than 0")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    if len(values) > 1000:
        raise _fail("States.ArrayRange makes at most 1000 items")
    return values


def _array_get_item(args: list[Any], _: Randomness) -> Any:
    _arity("States.ArrayGetItem", args, 2)
    items, index = _list("States.ArrayGetItem", args[0]), _int("States.ArrayGetItem", args[1])
    if not 0 <= index < len(items):
        raise _fail(f"States.ArrayGetItem: index {index} is out of range")
    return items[index]


def _array_length(args: list[Any], _: Randomness) -> int:
    _arity("States.ArrayLength", args, 1)
    return len(_list("States.ArrayLength", args[0]))


def _array_unique(args: list[Any], _: Randomness) -> list[Any]:
    _arity("States.ArrayUnique", args, 1)
    unique: list[Any] = []
    for item in _list("States.ArrayUnique", args[0]):
        if item not in unique:
            unique.append(item)
    return unique


def _base64_encode(args: list[Any], _: Randomness) -> str:
    _arity("States.Base64Encode", args, 1)
    if not isinstance(args[0], str):
        raise _fail("States.Base64Encode needs a string")
    return base64.b64encode(args[0].encode()).decode()


def _base64_decode(args: list[Any], _: Randomness) -> str:
    _arity("States.Base64Decode", args, 1)
    try:
        return base64.b64decode(str(args[0]), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise _fail("States.Base64Decode: the argument is not base64 of UTF-8 text") from None


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
           "SHA-512": "sha512"}  # fmt: skip


def _hash(args: list[Any], _: Randomness) -> str:
    _arity("States.Hash", args, 2)
    algorithm = _HASHES.get(str(args[1]))
    if algorithm is None:
        raise _fail(f"States.Hash: the algorithm must be one of {', '.join(_HASHES)}")
    data = args[0] if isinstance(args[0], str) else json.dumps(args[0], separators=(",", ":"))
    return hashlib.new(algorithm, data.encode()).hexdigest()


def _json_merge(args: list[Any], _: Randomness) -> Any:
    _arity("States.JsonMerge", args, 3)
    left, right, deep = args
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise _fail("States.JsonMerge needs two objects")
    if deep is not False:
        raise _fail("States.JsonMerge: only a shallow merge (false) is defined")
    return {**left, **right}


def _math_random(args: list[Any], source: Randomness) -> int:
    _arity("States.MathRandom", args, 2, 3)
    start, end = _int("States.MathRandom", args[0]), _int("States.MathRandom", args[1])
    if end <= start:
        raise _fail("States.MathRandom needs a start below its end")
    return source.randint(start, end)


def _math_add(args: list[Any], _: Randomness) -> int:
    _arity("States.MathAdd", args, 2)
    return _int("States.MathAdd", args[0]) + _int("States.MathAdd", args[1])


def _string_split(args: list[Any], _: Randomness) -> list[str]:
    _arity("States.StringSplit", args, 2)
    text, separators = args
    if not isinstance(text, str) or not isinstance(separators, str):
        raise _fail("States.StringSplit needs two strings")
    pattern = "|".join(re.escape(c) for c in separators) or re.escape(separators)
    return [part for part in re.split(pattern, text) if part]


def _uuid(args: list[Any], source: Randomness) -> str:
    _arity("States.UUID", args, 0)
    return source.uuid4()


FUNCTIONS: dict[str, Callable[[list[Any], Randomness], Any]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": _json_to_string,
    "States.Array": _array,
    "States.ArrayPartition": _array_partition,
    "States.ArrayContains": _array_contains,
    "States.ArrayRange": _array_range,
    "States.ArrayGetItem": _array_get_item,
    "States.ArrayLength": _array_length,
    "States.ArrayUnique": _array_unique,
    "States.Base64Encode": _base64_encode,
    "States.Base64Decode": _base64_decode,
    "States.Hash": _hash,
    "States.JsonMerge": _json_merge,
    "States.MathRandom": _math_random,
    "States.MathAdd": _math_add,
    "States.StringSplit": _string_split,
    "States.UUID": _uuid,
}
"""Every intrinsic function of the specification, by name."""
