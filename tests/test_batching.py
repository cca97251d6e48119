"""BATCH_UPDATE_ENABLED: reservations held in memory between flushes. Exact within a node,
no database round trip per request, top-ups seen at once, everything written at SIGTERM."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Admin, gateway_env
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, api
from tests.test_scaleout import PER_REQUEST, PRICES, _load, chat

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def batched(tmp_path: Path) -> Iterator[GatewayProcess]:
    env = gateway_env(BATCH_UPDATE_ENABLED="true", BATCH_UPDATE_INTERVAL="600", ONEAPI_DB_STATS="1",
                      SQLITE_PATH=str(tmp_path / "batched.db"), SESSION_SECRET="batched-secret")
    gw = GatewayProcess(env, name="batched").start()
    try:
        yield gw
    finally:
        gw.stop()


def setup(gw: GatewayProcess, upstream_url: str, user_quota: int, token_quota: int) -> tuple[Admin, dict, dict]:
    admin = Admin(gw, gw.login())
    for key, value in PRICES:
        admin.option(key, value)
    admin.channel(upstream_url, "test-model")
    user = admin.user(quota=user_quota)
    return admin, user, admin.token(user, remain_quota=token_quota)


def statements(gw: GatewayProcess) -> int:
    return int(httpx.get(gw.base_url + "/api/status").json()["data"]["db_statements"])


def overlapping_load(gw: GatewayProcess, upstream: FakeOpenAI, key: str, count: int) -> list[int]:
    """``count`` concurrent chat requests whose reservations overlap (a slow upstream)."""
    upstream.latency = 0.2
    try:
        return asyncio.run(_load([gw.base_url], key, count))
    finally:
        upstream.latency = 0


def rows(db: Path, token_id: int, user_id: int) -> tuple[tuple[int, int], tuple[int, int, int]]:
    with sqlite3.connect(db) as conn:
        token = conn.execute("SELECT remain_quota, used_quota FROM tokens WHERE id = ?", (token_id,)).fetchone()
        user = conn.execute("SELECT quota, used_quota, request_count FROM users WHERE id = ?", (user_id,)).fetchone()
    return token, user


def test_requests_cost_no_db_round_trip_and_all_is_written_at_sigterm(batched, upstream, tmp_path) -> None:
    _, user, token = setup(batched, upstream.base_url, 10_000_000, 1_000_000)
    assert chat(batched, token["key"]) == 200  # balances read once
    before = statements(batched)
    results = asyncio.run(_load([batched.base_url], token["key"], 60))
    assert results.count(200) == 60
    assert statements(batched) - before <= 2  # 60 requests, settled and logged in memory
    batched.stop()  # SIGTERM: the batch is flushed
    token_row, user_row = rows(tmp_path / "batched.db", token["id"], user["id"])
    assert token_row == (1_000_000 - 61 * PER_REQUEST, 61 * PER_REQUEST)
    assert user_row == (10_000_000 - 61 * PER_REQUEST, 61 * PER_REQUEST, 61)
    with sqlite3.connect(tmp_path / "batched.db") as conn:
        assert conn.execute("SELECT count(*) FROM logs WHERE type = 2").fetchone()[0] == 61


def test_concurrent_requests_never_overdraw_the_token(batched, upstream, tmp_path) -> None:
    budget = PER_REQUEST * 12 + 7
    _, user, token = setup(batched, upstream.base_url, 10_000_000, budget)
    results = overlapping_load(batched, upstream, token["key"], 40)
    served = results.count(200)
    assert 0 < served <= 12 and results.count(403) == 40 - served
    assert chat(batched, token["key"]) == (200 if served < 12 else 403)  # late ones see the refunds
    served += 1 if served < 12 else 0
    batched.stop()
    token_row, user_row = rows(tmp_path / "batched.db", token["id"], user["id"])
    assert token_row == (budget - served * PER_REQUEST, served * PER_REQUEST)
    assert user_row[2] == served and token_row[0] >= 0


def test_a_top_up_counts_at_once(batched, upstream) -> None:
    admin, user, token = setup(batched, upstream.base_url, 10_000_000, 5)
    assert chat(batched, token["key"]) == 403
    owner = batched.login(user["username"], "password123")
    row = api(owner, "GET", f"/api/token/{token['id']}")
    api(owner, "PUT", "/api/token/", json={**row, "remain_quota": PER_REQUEST * 10})
    assert chat(batched, token["key"]) == 200  # the short balance was read again
    api(admin.root, "PUT", "/api/user/", json={**admin.user_row(user["id"]), "quota": 0})
    assert chat(batched, token["key"]) == 403  # within the balance TTL, but the user has nothing
