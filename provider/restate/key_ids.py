"""Which secrets keys the executions still running depend on: the key id of every envelope in
their journals (their input, and what their steps sealed again), read through the admin SQL
API. A key may leave the services' keyring once no execution in flight names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sealing import key_ids

from .admin import AdminApi

__all__ = ["key_ids_in_flight"]

_IN_FLIGHT_JOURNALS = (
    "SELECT j.id AS id, j.entry_json AS entry_json FROM sys_journal j "
    "JOIN sys_invocation_status s ON j.id = s.id WHERE s.status <> 'completed'"
)


def _documents(value: Any) -> Iterator[Any]:
    """`value`, and every JSON document carried inside it as bytes (a list of byte values) or
    as text, the way a journal entry holds payloads: each to be searched once, whole."""
    yield value
    yield from _carried(value)


def _carried(value: Any) -> Iterator[Any]:
    """The documents `value` carries as bytes or text, at any depth."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _carried(item)
    elif isinstance(value, list):
        if value and all(isinstance(b, int) and 0 <= b <= 255 for b in value):
            yield from _parsed(bytes(value))
        else:
            for item in value:
                yield from _carried(item)
    elif isinstance(value, str) and "$sealed" in value:
        yield from _parsed(value.encode())


def _parsed(data: bytes) -> Iterator[Any]:
    try:
        document = json.loads(data)
    except ValueError:
        return
    yield from _documents(document)


async def key_ids_in_flight(admin: AdminApi) -> dict[str, set[str]]:
    """For each key id an execution in flight holds an envelope under, those executions' ids."""
    found: dict[str, set[str]] = {}
    for row in await admin.query(_IN_FLIGHT_JOURNALS):
        if not row.get("entry_json"):
            continue
        kids: set[str] = set()
        for document in _documents(json.loads(row["entry_json"])):
            kids |= key_ids(document)
        for kid in kids:
            found.setdefault(kid, set()).add(str(row["id"]))
    return found
