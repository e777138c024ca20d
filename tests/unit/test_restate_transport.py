"""The transport to Restate keeps kept-open connections acknowledging at once, so a SQL answer
streamed in several chunks by a server without TCP_NODELAY is not held back ~40 ms by a
delayed ACK (bench/status.py measures the stalls; this checks the mechanism)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from provider.restate.http import RestateHttp
from provider.restate.transport import restate_transport

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's"
)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A keep-alive HTTP server that answers every request with a chunked `ok`."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n")
                await writer.drain()
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    listening = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        listening.close()


async def _quick_ack_after_each(transport: httpx.AsyncBaseTransport, url: str) -> list[int]:
    async with httpx.AsyncClient(transport=transport, base_url=url) as client:
        found = []
        for _ in range(4):
            response = await client.get("/")
            assert response.text == "ok"
            sock = response.extensions["network_stream"].get_extra_info("socket")
            found.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK))
        return found


async def test_a_kept_open_connection_stays_in_quick_ack_mode(server: str) -> None:
    assert await _quick_ack_after_each(restate_transport(), server) == [1, 1, 1, 1]


async def test_without_it_the_kernel_falls_back_to_delayed_acks(server: str) -> None:
    """The control: the same exchange over httpx's own transport leaves quick-ACK mode, which
    is the delayed ACK the transport exists to avoid."""
    assert 0 in await _quick_ack_after_each(httpx.AsyncHTTPTransport(), server)


async def test_the_restate_client_uses_it(server: str) -> None:
    http = RestateHttp(server)
    try:
        response = await http.request("GET", "/")
        sock = response.extensions["network_stream"].get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK) == 1
    finally:
        await http.aclose()


async def test_an_idle_connection_is_reused_until_the_server_closes_it() -> None:
    """The pool asks each idle connection whether it is readable before placing a request:
    a healthy one is not and is reused; one the server closed is, and is replaced."""
    opened = 0

    async def answer_twice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal opened
        opened += 1
        for _ in range(2):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    listening = await asyncio.start_server(answer_twice, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"
    try:
        async with httpx.AsyncClient(transport=restate_transport(), base_url=url) as client:
            first = await client.get("/")
            stream = first.extensions["network_stream"]
            assert stream.get_extra_info("is_readable") is False
            assert (await client.get("/")).text == "ok"
            assert opened == 1
            deadline = time.monotonic() + 5
            while not stream.get_extra_info("is_readable"):  # the server closes after two
                assert time.monotonic() < deadline, "the closed connection never read as such"
                await asyncio.sleep(0.01)
            assert (await client.get("/")).text == "ok"
            assert opened == 2
    finally:
        listening.close()
