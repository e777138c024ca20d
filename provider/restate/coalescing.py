"""`Coalesced`: concurrent reads by key joined into batch reads, one in flight at a time.

A status poll costs Restate one SQL query whether it names one invocation or a hundred, so
polls that arrive together should share one: while a read is in flight, the keys asked for
meanwhile wait and go together in the next. Nothing waits on a timer: a lone poll is read at
once, and a crowd of them is read in as many queries as there are round trips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Generic, TypeVar

__all__ = ["Coalesced"]

K = TypeVar("K")
V = TypeVar("V")


def _retrieved(batch: asyncio.Future[Mapping[K, V]]) -> None:
    """Mark a batch's failure seen even when every caller stopped waiting for it."""
    if not batch.cancelled():
        batch.exception()


class Coalesced(Generic[K, V]):
    """Reads keys through `read` (keys in, found values by key out, unknown keys left out),
    joining the keys asked for while a read is in flight into the next one. A failed read
    fails every caller whose keys it carried."""

    def __init__(self, read: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._read = read
        self._asked: dict[K, None] = {}
        self._next: asyncio.Future[Mapping[K, V]] | None = None
        self._reading: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def get(self, keys: Iterable[K]) -> dict[K, V]:
        """The value of each of `keys` that the read found."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop: nothing from the last one carries over
            self._loop, self._asked, self._next, self._reading = loop, {}, None, None
        self._asked.update(dict.fromkeys(wanted))
        if self._next is None:
            self._next = loop.create_future()
            self._next.add_done_callback(_retrieved)
        batch = self._next
        if self._reading is None:
            self._reading = loop.create_task(self._read_all())
        found = await asyncio.shield(batch)
        return {key: found[key] for key in wanted if key in found}

    async def _read_all(self) -> None:
        """Read batch after batch until nobody is waiting."""
        try:
            while self._next is not None:
                batch, keys = self._next, list(self._asked)
                self._next, self._asked = None, {}
                try:
                    batch.set_result(await self._read(keys))
                except asyncio.CancelledError:
                    batch.cancel()
                    raise
                except Exception as error:  # noqa: BLE001 - handed to every caller of the batch
                    batch.set_exception(error)
        finally:
            self._reading = None
