"""A TCP proxy on 127.0.0.1 that cuts connections on demand, for fault-injection tests.

``ChaosProxy`` forwards every connection it accepts to ``127.0.0.1:target_port`` from a
background thread with its own event loop, so synchronous tests (and gateway subprocesses
pointed at ``proxy.port``) can use it::

    with ChaosProxy(5432, cut_probability=0.05, seed=7, max_cuts=3) as proxy:
        dsn = f"postgres://postgres@127.0.0.1:{proxy.port}/postgres"
        ...
        proxy.cut_all()

While ``chaos`` is on, each chunk read from either side is, with probability
``cut_probability`` (drawn from ``random.Random(seed)``), dropped and the connection cut:
both sockets are closed with a reset (SO_LINGER 0), not a clean FIN. Random cuts stop after
``max_cuts`` of them; ``cut_all()`` cuts every open connection regardless. ``cuts`` counts
cuts of both kinds, ``connections`` the connections accepted. A connection that ends
normally (EOF both ways) is closed normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

T = TypeVar("T")
HOST = "127.0.0.1"
CHUNK = 64 * 1024
_LINGER_RESET = struct.pack("ii", 1, 0)  # l_onoff=1, l_linger=0: close() sends RST


@dataclass(eq=False)
class _Link:
    """One proxied connection: the client's side and the upstream side."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    closed: bool = field(default=False)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close ``writer``'s socket at once so that the peer gets a reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


class ChaosProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port`` and cuts connections."""

    def __init__(self, target_port: int, *, cut_probability: float = 0.0, seed: int | None = 0,
                 max_cuts: int | None = None, chaos: bool = True) -> None:
        self.target_port = target_port
        self.cut_probability = cut_probability
        self.max_cuts = max_cuts
        self.chaos = chaos
        self.port = 0
        self.cuts = 0
        self.connections = 0
        self._random_cuts = 0
        self._random = random.Random(seed)
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    # ----- lifecycle, from the caller's thread -----------------------------------------
    def start(self) -> Self:
        """Start listening on a free port (``port``); return once it accepts."""
        if self._loop is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="ChaosProxy",
                                        daemon=True)
        self._thread.start()
        try:
            self._call(self._listen())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = self._server = None

    def cut_all(self) -> int:
        """Cut every open connection now; return how many were cut."""
        return self._call(self._cut_all())

    @property
    def open_connections(self) -> int:
        """Connections currently being forwarded."""
        return len(self._links)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        assert self._loop is not None, "the proxy is not running"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)

    # ----- in the proxy's loop ---------------------------------------------------------
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, HOST, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            self._close(link, reset=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _cut_all(self) -> int:
        links = list(self._links)
        for link in links:
            self._cut(link)
        return len(links)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        link = _Link(writer)
        self._links.add(link)
        try:
            try:
                up_reader, link.upstream = await asyncio.open_connection(HOST, self.target_port)
            except OSError:
                return  # the client gets a reset
            await asyncio.gather(self._pump(link, reader, link.upstream),
                                 self._pump(link, up_reader, writer))
            self._close(link, reset=False)
        finally:
            self._close(link, reset=True)  # no-op unless cancelled or failed
            self._tasks.discard(task)

    async def _pump(self, link: _Link, src: asyncio.StreamReader,
                    dst: asyncio.StreamWriter) -> None:
        """Copy ``src`` to ``dst`` until EOF, then half-close ``dst``; an error resets both."""
        try:
            while (data := await src.read(CHUNK)) and not link.closed:
                if self._roll():
                    self._random_cuts += 1
                    self._cut(link)
                    return
                dst.write(data)
                await dst.drain()
            if not link.closed and dst.can_write_eof():
                dst.write_eof()
        except OSError:  # a reset on one side is passed on to the other
            self._close(link, reset=True)

    def _roll(self) -> bool:
        """Whether this chunk cuts its connection."""
        if not self.chaos or (self.max_cuts is not None and self._random_cuts >= self.max_cuts):
            return False
        return self._random.random() < self.cut_probability

    def _cut(self, link: _Link) -> None:
        self.cuts += 1
        self._close(link, reset=True)

    def _close(self, link: _Link, *, reset: bool) -> None:
        """Close both sides of ``link`` (once, with a reset or a FIN) and forget it."""
        if link.closed:
            return
        link.closed = True
        self._links.discard(link)
        for writer in (link.client, link.upstream):
            if writer is None:
                continue
            if reset:
                _reset(writer)
            else:
                writer.close()
