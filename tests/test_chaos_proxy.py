"""The chaos proxy: forwards both ways, cuts with a reset on demand, and fronts real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import asyncpg
import pytest

from tests.fakes.chaos_proxy import ChaosProxy


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        endings: list[str] = self.server.endings  # type: ignore[attr-defined]
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
            endings.append("eof")
        except OSError:
            endings.append("reset")


class _EchoServer(socketserver.ThreadingTCPServer):
    """Echoes every byte back on 127.0.0.1; records how each connection ended."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _EchoHandler)
        self.endings: list[str] = []  # "eof" or "reset", one per finished connection

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def echo() -> Iterator[_EchoServer]:
    server = _EchoServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _connect(proxy: ChaosProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def _round_trip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = bytearray()
    while len(got) < len(data) and (chunk := sock.recv(65536)):
        got += chunk
    return bytes(got)


def _ending(sock: socket.socket) -> str:
    """How the client sees its connection end: "reset" or "eof" (a timeout fails the test)."""
    try:
        sock.sendall(b"ping")
        return "eof" if sock.recv(16) == b"" else "data"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"


def _wait_for(predicate: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_forwards_both_ways(echo: _EchoServer) -> None:
    payload = os.urandom(1024 * 1024)  # many chunks each way
    with ChaosProxy(echo.port) as proxy, _connect(proxy) as a, _connect(proxy) as b:
        assert _round_trip(a, b"hello") == b"hello"
        assert _round_trip(b, payload) == payload
        assert _round_trip(a, b"again") == b"again"
        assert (proxy.connections, proxy.cuts, proxy.open_connections) == (2, 0, 2)
    _wait_for(lambda: len(echo.endings) == 2)


def test_clean_close_passes_through(echo: _EchoServer) -> None:
    with ChaosProxy(echo.port) as proxy:
        with _connect(proxy) as sock:
            assert _round_trip(sock, b"bye") == b"bye"
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(16) == b""  # the echo server's FIN, passed back
        _wait_for(lambda: echo.endings == ["eof"] and proxy.open_connections == 0)
        assert proxy.cuts == 0


def test_probability_one_cuts_both_sides_with_a_reset(echo: _EchoServer) -> None:
    with ChaosProxy(echo.port, cut_probability=1.0) as proxy, _connect(proxy) as sock:
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            sock.recv(16)
        assert proxy.cuts == 1
        _wait_for(lambda: echo.endings == ["reset"])  # the upstream side is reset too
        assert proxy.open_connections == 0


def test_max_cuts_bounds_random_cuts(echo: _EchoServer) -> None:
    with ChaosProxy(echo.port, cut_probability=1.0, max_cuts=2) as proxy:
        for _ in range(2):
            with _connect(proxy) as sock:
                sock.sendall(b"x")
                assert _ending(sock) in ("reset", "eof")
        with _connect(proxy) as sock:
            assert _round_trip(sock, b"survives") == b"survives"
        assert (proxy.cuts, proxy.connections) == (2, 3)


def test_chaos_switch(echo: _EchoServer) -> None:
    with ChaosProxy(echo.port, cut_probability=1.0, chaos=False) as proxy, _connect(proxy) as sock:
        assert _round_trip(sock, b"calm") == b"calm"
        proxy.chaos = True
        sock.sendall(b"storm")
        assert _ending(sock) in ("reset", "eof")
        assert proxy.cuts == 1


def test_seeded_cuts_repeat(echo: _EchoServer) -> None:
    def cut_pattern() -> list[bool]:
        pattern = []
        with ChaosProxy(echo.port, cut_probability=0.5, seed=42) as proxy:
            for _ in range(8):  # one chunk each way per connection, so one or two draws
                with _connect(proxy) as sock:
                    try:
                        pattern.append(_round_trip(sock, b"x") != b"x")
                    except ConnectionResetError:
                        pattern.append(True)
        return pattern

    first = cut_pattern()
    assert first == cut_pattern() and any(first) and not all(first)


def test_cut_all(echo: _EchoServer) -> None:
    with ChaosProxy(echo.port) as proxy:
        socks = [_connect(proxy) for _ in range(3)]
        try:
            for sock in socks:
                assert _round_trip(sock, b"up") == b"up"
            assert proxy.cut_all() == 3
            assert [_ending(sock) for sock in socks] == ["reset"] * 3
            assert (proxy.cuts, proxy.open_connections) == (3, 0)
            _wait_for(lambda: echo.endings == ["reset"] * 3)
            with _connect(proxy) as sock:  # still accepting
                assert _round_trip(sock, b"new") == b"new"
        finally:
            for sock in socks:
                sock.close()


def test_postgres_through_the_proxy() -> None:
    async def run(port: int) -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres",
                                     database="postgres", timeout=10)
        try:
            assert await conn.fetchval("SELECT 1") == 1
            assert proxy.cut_all() == 1
            with pytest.raises((asyncpg.exceptions.ConnectionDoesNotExistError, OSError)):
                await conn.fetchval("SELECT 1")
        finally:
            conn.terminate()

    with ChaosProxy(5432, cut_probability=0.0) as proxy:
        asyncio.run(run(proxy.port))
        assert (proxy.connections, proxy.cuts) == (1, 1)
