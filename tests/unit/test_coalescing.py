"""`Coalesced` joins reads asked for at the same time: status polls from many tasks share a
query, and no caller waits on a timer or on another caller's failure or cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest

from provider.restate.coalescing import Coalesced


class Reader:
    """A batch read that records each batch and can be held open or made to fail."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.reading = asyncio.Event()
        self.failing = False

    async def read(self, keys: list[str]) -> Mapping[str, int]:
        self.batches.append(keys)
        self.reading.set()
        await self.gate.wait()
        if self.failing:
            raise RuntimeError("the server went away")
        return {key: len(key) for key in keys if not key.startswith("unknown")}


async def test_keys_asked_for_together_are_read_once() -> None:
    reader = Reader()
    coalesced = Coalesced(reader.read)
    found = await asyncio.gather(
        coalesced.get(["a", "bb"]), coalesced.get(["bb", "ccc"]), coalesced.get(["unknown"])
    )
    assert reader.batches == [["a", "bb", "ccc", "unknown"]]
    assert list(found) == [{"a": 1, "bb": 2}, {"bb": 2, "ccc": 3}, {}]


async def test_a_lone_read_goes_at_once_and_keys_asked_meanwhile_go_next() -> None:
    reader = Reader()
    reader.gate.clear()
    coalesced = Coalesced(reader.read)
    first = asyncio.create_task(coalesced.get(["a"]))
    await reader.reading.wait()
    later = [asyncio.create_task(coalesced.get([key])) for key in ("bb", "ccc")]
    await asyncio.sleep(0)
    assert reader.batches == [["a"]]  # nothing else is read while one read is in flight
    reader.gate.set()
    assert await first == {"a": 1}
    assert await asyncio.gather(*later) == [{"bb": 2}, {"ccc": 3}]
    assert reader.batches == [["a"], ["bb", "ccc"]]


async def test_a_failed_read_fails_its_callers_and_the_next_read_starts_afresh() -> None:
    reader = Reader()
    reader.failing = True
    coalesced = Coalesced(reader.read)
    failed = await asyncio.gather(
        coalesced.get(["a"]), coalesced.get(["bb"]), return_exceptions=True
    )
    assert [str(error) for error in failed] == ["the server went away"] * 2
    reader.failing = False
    assert await coalesced.get(["a"]) == {"a": 1}


async def test_a_caller_that_stops_waiting_leaves_the_read_to_the_others() -> None:
    reader = Reader()
    reader.gate.clear()
    coalesced = Coalesced(reader.read)
    leaving = asyncio.create_task(coalesced.get(["a"]))
    staying = asyncio.create_task(coalesced.get(["bb"]))
    await reader.reading.wait()
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    reader.gate.set()
    assert await staying == {"bb": 2}


async def test_nothing_asked_reads_nothing() -> None:
    reader = Reader()
    assert await Coalesced(reader.read).get([]) == {}
    assert reader.batches == []


def test_each_event_loop_starts_afresh() -> None:
    """A provider whose event loop was closed mid-read reads under the next loop."""
    reader = Reader()
    coalesced = Coalesced(reader.read)

    async def reading() -> None:
        reader.gate.clear()
        asyncio.get_running_loop().create_task(coalesced.get(["a"]))
        await reader.reading.wait()

    first = asyncio.new_event_loop()
    first.run_until_complete(reading())
    first.close()  # the read is left in flight, never to finish
    reader.gate = asyncio.Event()
    reader.gate.set()
    assert asyncio.run(asyncio.wait_for(coalesced.get(["bb"]), 5)) == {"bb": 2}
