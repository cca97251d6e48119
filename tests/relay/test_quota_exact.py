"""Billing under concurrency: never below zero, never served past the quota, logs sum exactly."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.conftest import Admin, gateway_env
from tests.dbs import postgres_database
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(180)

PER_REQUEST = 50  # ceil(2 × (10 + 5 × 3)) with the prices below
TOKEN_QUOTA = PER_REQUEST * 60 + 20


async def _fire(base_url: str, key: str, count: int) -> list[int]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
        async def one() -> int:
            r = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer sk-{key}"},
                                  json={"model": "test-model", "max_tokens": 10,
                                        "messages": [{"role": "user", "content": "hi"}]})
            return r.status_code

        return list(await asyncio.gather(*(one() for _ in range(count))))


def run_exactness(gateway: GatewayProcess, admin: Admin, upstream: FakeOpenAI) -> None:
    admin.option("ModelRatio", '{"test-model": 2}')
    admin.option("CompletionRatio", '{"test-model": 3}')
    channel = admin.channel(upstream.base_url, "test-model")
    user = admin.user(quota=TOKEN_QUOTA + 1000)
    token = admin.token(user, remain_quota=TOKEN_QUOTA)
    upstream.latency = 0.05
    statuses = asyncio.run(_fire(gateway.base_url, token["key"], 200))
    served = statuses.count(200)
    assert set(statuses) <= {200, 403, 401}, statuses
    assert 0 < served <= TOKEN_QUOTA // PER_REQUEST
    deadline = time.monotonic() + 20
    while len(admin.logs(token_name=token["name"], type=2)) < served and time.monotonic() < deadline:
        time.sleep(0.1)
    logs = admin.logs(token_name=token["name"], type=2)
    owner = gateway.login(user["username"], "password123")
    token_row = api(owner, "GET", f"/api/token/{token['id']}")
    user_row = admin.user_row(user["id"])
    logged = sum(log["quota"] for log in logs)
    assert len(logs) == served and all(log["quota"] == PER_REQUEST for log in logs)
    assert token_row["remain_quota"] >= 0 and user_row["quota"] >= 0
    assert TOKEN_QUOTA - token_row["remain_quota"] == logged == token_row["used_quota"]
    assert TOKEN_QUOTA + 1000 - user_row["quota"] == logged == user_row["used_quota"]
    assert user_row["request_count"] == served
    admin.delete_channel(channel["id"])


def test_concurrent_requests_on_sqlite(gateway, admin, upstream) -> None:
    run_exactness(gateway, admin, upstream)


def test_concurrent_requests_on_postgres(upstream) -> None:
    with postgres_database() as dsn:
        gw = GatewayProcess(gateway_env(SQL_DSN=dsn), name="pg").start()
        try:
            root = gw.login()
            run_exactness(gw, Admin(gw, root), upstream)
        finally:
            gw.stop()
