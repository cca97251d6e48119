"""A raw HTTP/1.1 upstream on 127.0.0.1 that answers by a script, then hangs.

``StallingUpstream(steps)`` answers every request with ``steps``, pairs of (delay in seconds,
bytes to write), then holds the connection open and sends nothing more until the client closes
it: with no steps it never answers at all. One request per connection (the answers say
``Connection: close``). Raw asyncio, in the test's own event loop, so a
test controls every byte and every pause (the aiohttp fakes always finish their answers).
``connections`` counts accepted connections, ``closed_by_client`` those the client closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import TracebackType

__all__ = ["SSE_HEADERS", "StallingUpstream", "chunk", "json_headers"]

SSE_HEADERS = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def json_headers(length: int) -> bytes:
    """Response headers announcing a JSON body of ``length`` bytes."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


class StallingUpstream:
    def __init__(self, steps: Sequence[tuple[float, bytes]] = ()) -> None:
        self.steps = list(steps)
        self.connections = 0
        self.closed_by_client = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return "http://127.0.0.1:%d" % self._server.sockets[0].getsockname()[1]

    async def __aenter__(self) -> StallingUpstream:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()  # a hanging answer's read then sees the end
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            for delay, data in self.steps:
                if delay:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
            while await reader.read(65536):  # the rest of the request body, then the client's close
                pass
            self.closed_by_client += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            self.closed_by_client += 1
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
