"""The transport to Restate keeps kept-open connections acknowledging at once, so a SQL answer
streamed in several chunks by a server without TCP_NODELAY is not held back ~40 ms by a
delayed ACK (bench/status.py measures the stalls; this checks the mechanism)."""

from __future__ import annotations

import asyncio
import socket
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
