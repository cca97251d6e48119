"""Two gateway nodes on one database and one Redis: invalidation, exact quota, jobs, sessions,
Redis outages, and batched writes surviving SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Admin, gateway_env
from tests.dbs import mariadb_database, postgres_database
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, api, free_port

pytestmark = pytest.mark.timeout(240)

PRICES = (("ModelRatio", '{"test-model": 2}'), ("CompletionRatio", '{"test-model": 3}'))
PER_REQUEST = 50


@contextlib.contextmanager
def two_nodes(dsn: str, redis_url: str, **extra: str) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    common = {"SQL_DSN": dsn, "REDIS_CONN_STRING": redis_url, "SESSION_SECRET": "shared-secret", **extra}
    master = GatewayProcess(gateway_env(**common), name="master").start()
    slave = GatewayProcess(gateway_env(NODE_TYPE="slave", **common), name="slave").start()
    try:
        yield master, slave
    finally:
        slave.stop()
        master.stop()


def chat(node: GatewayProcess, key: str) -> int:
    return httpx.post(node.base_url + "/v1/chat/completions", headers={"Authorization": f"Bearer sk-{key}"},
                      json={"model": "test-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
                      timeout=30).status_code


def wait_until(predicate, timeout: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


async def _load(urls: list[str], key: str, count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=count)) as client:
        async def one(i: int) -> int:
            try:
                r = await client.post(urls[i % len(urls)] + "/v1/chat/completions",
                                      headers={"Authorization": f"Bearer sk-{key}"},
                                      json={"model": "test-model", "max_tokens": 10,
                                            "messages": [{"role": "user", "content": "hi"}]})
            except httpx.TransportError:
                return -1  # refused: the node was already shutting down
            return r.status_code

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def run_two_node_suite(dsn: str, upstream: FakeOpenAI) -> None:
    with two_nodes(dsn, "redis://127.0.0.1:6379/3") as (a, b):
        admin_a = Admin(a, a.login())
        for key, value in PRICES:
            admin_a.option(key, value)
        # A channel added on A is used by B.
        channel = admin_a.channel(upstream.base_url, "test-model")
        user = admin_a.user(quota=PER_REQUEST * 100)
        token = admin_a.token(user, remain_quota=PER_REQUEST * 80 + 10)
        wait_until(lambda: chat(b, token["key"]) == 200, 2)
        # A login cookie from A works on B (shared SESSION_SECRET).
        cookie_client = httpx.Client(base_url=b.base_url, cookies=admin_a.root.cookies)
        assert api(cookie_client, "GET", "/api/user/self")["username"] == "root"
        # 400 concurrent requests over both nodes: quota never negative, logs sum exactly.
        statuses = asyncio.run(_load([a.base_url, b.base_url], token["key"], 400))
        served = statuses.count(200)
        assert 0 < served <= 80 and set(statuses) <= {200, 401, 403}
        wait_until(lambda: len(admin_a.logs(token_name=token["name"], type=2)) >= served + 1, 20)
        logs = admin_a.logs(token_name=token["name"], type=2)
        owner = a.login(user["username"], "password123")
        token_row = api(owner, "GET", f"/api/token/{token['id']}")
        user_row = admin_a.user_row(user["id"])
        logged = sum(log["quota"] for log in logs)
        assert token_row["remain_quota"] >= 0 and user_row["quota"] >= 0
        assert PER_REQUEST * 80 + 10 - token_row["remain_quota"] == logged
        assert PER_REQUEST * 100 - user_row["quota"] == logged == PER_REQUEST * (served + 1)
        # A token disabled through A is refused by B within 1 s.
        fresh = admin_a.token(user, remain_quota=10_000)
        assert chat(b, fresh["key"]) == 200
        api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": fresh["id"], "status": 2})
        assert wait_until(lambda: chat(b, fresh["key"]) == 401, 1.0) < 1.0
        admin_a.delete_channel(channel["id"])


def test_two_nodes_postgres_redis(upstream) -> None:
    with postgres_database() as dsn:
        run_two_node_suite(dsn, upstream)


def test_two_nodes_mariadb_redis(upstream) -> None:
    with mariadb_database() as dsn:
        run_two_node_suite(dsn, upstream)


@contextlib.contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout
               .strip() == b"PONG", 10)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def redis_keys(port: int, pattern: str) -> list[str]:
    out = subprocess.run(["redis-cli", "-p", str(port), "--scan", "--pattern", pattern], capture_output=True)
    return out.stdout.decode().split()


def test_redis_outage_keeps_serving_and_recovers(upstream) -> None:
    port = free_port()
    with postgres_database() as dsn:
        with own_redis(port) as redis_proc:
            gw = GatewayProcess(gateway_env(SQL_DSN=dsn, REDIS_CONN_STRING=f"redis://127.0.0.1:{port}"),
                                name="redis").start()
            try:
                admin = Admin(gw, gw.login())
                for key, value in PRICES:
                    admin.option(key, value)
                admin.channel(upstream.base_url, "test-model")
                token = admin.token(admin.user())
                assert chat(gw, token["key"]) == 200
                assert f"token:{token['key']}" in redis_keys(port, "token:*")  # cached in Redis
                redis_proc.terminate()
                redis_proc.wait(10)
                for _ in range(5):
                    assert chat(gw, token["key"]) == 200  # served from the database
                owner = gw.login(token_owner(admin, token), "password123")
                api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": token["id"], "status": 2})
                assert wait_until(lambda: chat(gw, token["key"]) == 401, 2.0) < 2.0  # bound while Redis is down
                api(owner, "PUT", "/api/token/", params={"status_only": "true"}, json={"id": token["id"], "status": 1})
                restarted = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                              "--appendonly", "no"], stdout=subprocess.DEVNULL)
                try:
                    wait_until(lambda: "Redis is back" in gw.log(), 15)
                    wait_until(lambda: chat(gw, token["key"]) == 200 and bool(redis_keys(port, "token:*")), 10)
                finally:
                    restarted.terminate()
                    restarted.wait(10)
                assert "Redis is unavailable" in gw.log()
            finally:
                gw.stop()


def token_owner(admin: Admin, token: dict) -> str:
    return str(admin.user_row(token["user_id"])["username"])


def test_sigterm_with_batching_loses_nothing(upstream, tmp_path) -> None:
    env = gateway_env(BATCH_UPDATE_ENABLED="true", BATCH_UPDATE_INTERVAL="30", SQLITE_PATH=str(tmp_path / "b.db"),
                      SESSION_SECRET="batch-secret")
    gw = GatewayProcess(env, name="batch").start()
    admin = Admin(gw, gw.login())
    for key, value in PRICES:
        admin.option(key, value)
    channel = admin.channel(upstream.base_url, "test-model")
    user = admin.user(quota=10_000_000)
    token = admin.token(user, remain_quota=5_000_000)
    upstream.latency = 0.5
    results: list[int] = []

    async def load_then_term() -> None:
        seen = len(upstream.requests)
        task = asyncio.create_task(_load([gw.base_url], token["key"], 60))
        for _ in range(500):  # SIGTERM once requests are surely in flight (at the upstream)
            await asyncio.sleep(0.01)
            if len(upstream.requests) - seen >= 5:
                break
        gw.proc.send_signal(15)  # type: ignore[union-attr]
        results.extend(await task)

    asyncio.run(load_then_term())
    assert gw.proc.wait(60) == 0  # type: ignore[union-attr]
    gw.proc = None
    served = results.count(200)
    assert served >= 5 and set(results) <= {200, -1}, results  # in flight: finished; the rest: refused
    restarted = GatewayProcess(env, name="batch2")
    restarted.env.update(env)
    restarted.env["SQLITE_PATH"] = str(tmp_path / "b.db")
    restarted.start()
    try:
        root = Admin(restarted, restarted.login())
        logs = root.logs(token_name=token["name"], type=2)
        row = root.user_row(user["id"])
        assert len(logs) == served and row["request_count"] == served
        assert row["used_quota"] == PER_REQUEST * served == 10_000_000 - row["quota"]
        owner = restarted.login(user["username"], "password123")
        token_row = api(owner, "GET", f"/api/token/{token['id']}")
        assert token_row["used_quota"] == PER_REQUEST * served == 5_000_000 - token_row["remain_quota"]
        root.delete_channel(channel["id"])
    finally:
        restarted.stop()
        os.environ.pop("UNUSED", None)
