"""``oneapi --workers 2`` on one SQLite file: a listening socket per worker (connections spread
evenly), exact billing across the processes, graceful stop on SIGTERM, failure when the port
cannot be bound."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

from bench.procs import tree
from tests.conftest import Admin, gateway_env
from tests.gateway import GatewayProcess, api, free_port
from tests.test_scaleout import PER_REQUEST, PRICES, chat

pytestmark = pytest.mark.timeout(180)

LISTEN, ESTABLISHED = "0A", "01"


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def _tcp_inodes(port: int, state: str) -> set[int]:
    """Inodes of IPv4 TCP sockets whose local port is ``port``, in ``state`` (from /proc/net/tcp)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            inodes.add(int(fields[9]))
    return inodes


def _per_worker(gw: GatewayProcess, state: str) -> dict[int, int]:
    """How many sockets on the gateway's port in ``state`` each of its processes holds."""
    assert gw.proc is not None
    wanted = _tcp_inodes(gw.port, state)
    counts = {pid: len(_socket_inodes(pid) & wanted) for pid in tree(gw.proc.pid) if pid != gw.proc.pid}
    return {pid: n for pid, n in counts.items() if n}


async def _hold_connections(port: int, count: int) -> list[asyncio.StreamWriter]:
    """``count`` connections opened at once, each having had one keep-alive request answered."""

    async def one() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/status HTTP/1.1\r\nHost: gw\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        return writer

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _chats(base_url: str, key: str, count: int) -> list[int]:
    client = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key=f"sk-{key}", max_retries=0)
    async with client:
        async def one() -> int:
            reply = await client.chat.completions.create(
                model="test-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
            return reply.usage.total_tokens if reply.usage else 0

        return list(await asyncio.gather(*(one() for _ in range(count))))


def test_two_workers_spread_connections_bill_exactly_and_stop_gracefully(upstream) -> None:
    gw = GatewayProcess(gateway_env(), name="workers", args=["--workers", "2"]).start()
    try:
        deadline = time.monotonic() + 60
        while len(listeners := _per_worker(gw, LISTEN)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # the first worker up answered; the second may still be starting
        assert len(listeners) == 2 and set(listeners.values()) == {1}, listeners  # a socket each
        workers = set(listeners)

        async def spread() -> dict[int, int]:
            held = await _hold_connections(gw.port, 60)
            try:
                return _per_worker(gw, ESTABLISHED)
            finally:
                for writer in held:
                    writer.close()

        per_worker = asyncio.run(spread())
        assert set(per_worker) == workers and sum(per_worker.values()) == 60, per_worker
        assert min(per_worker.values()) >= 12, per_worker  # even: 30 each ± chance; shared socket: 58/2

        admin = Admin(gw, gw.login())
        for key, value in PRICES:
            admin.option(key, value)
        admin.channel(upstream.base_url, "test-model")
        # Prices and the channel were written through one worker; without Redis the other
        # reads them within a second (each request below is a new connection: either worker).
        prober = admin.token(admin.user(quota=PER_REQUEST * 1000), remain_quota=PER_REQUEST * 1000)
        deadline = time.monotonic() + 10
        streak = 0
        while streak < 12 and time.monotonic() < deadline:
            streak = streak + 1 if chat(gw, prober["key"]) == 200 else 0
        assert streak == 12
        user = admin.user(quota=PER_REQUEST * 1000)
        token = admin.token(user, remain_quota=PER_REQUEST * 500)
        served = asyncio.run(_chats(gw.base_url, token["key"], 80))
        assert len(served) == 80 and all(served)
        row = admin.user_row(user["id"])
        assert row["quota"] == PER_REQUEST * (1000 - 80) and row["used_quota"] == PER_REQUEST * 80
        assert row["request_count"] == 80
        owner = gw.login(user["username"], "password123")
        token_row = api(owner, "GET", f"/api/token/{token['id']}")
        assert token_row["remain_quota"] == PER_REQUEST * (500 - 80)
        assert sum(log["quota"] for log in admin.logs(token_name=token["name"], type=2)) == PER_REQUEST * 80
    finally:
        code = gw.stop(signal.SIGTERM)
    assert code == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_workers_exit_with_failure_when_the_port_is_taken(tmp_path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "oneapi", "--port", str(port), "--host", "127.0.0.1",
                               "--workers", "2"], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **gateway_env(SQLITE_PATH=str(tmp_path / "db.sqlite"),
                                                              SESSION_SECRET="x")})
    assert done.returncode != 0
    assert "Address already in use" in done.stdout + done.stderr
