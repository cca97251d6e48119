"""Default settings on SQLite: concurrent requests share their reservation and settlement
writes (group commit), and every claim still has its own exact outcome."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import gateway_env
from tests.gateway import GatewayProcess
from tests.test_batching import rows, setup, statements
from tests.test_scaleout import PER_REQUEST, _load, chat

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[GatewayProcess]:
    env = gateway_env(ONEAPI_DB_STATS="1", SQLITE_PATH=str(tmp_path / "counted.db"), SESSION_SECRET="gc-secret")
    gw = GatewayProcess(env, name="counted").start()
    try:
        yield gw
    finally:
        gw.stop()


def test_concurrent_requests_share_their_writes(counted, upstream, tmp_path) -> None:
    _, user, token = setup(counted, upstream.base_url, 10_000_000, 1_000_000)
    assert chat(counted, token["key"]) == 200
    before = statements(counted)
    upstream.latency = 0.2  # the 60 requests overlap
    try:
        results = asyncio.run(_load([counted.base_url], token["key"], 60))
    finally:
        upstream.latency = 0
    assert results.count(200) == 60
    # One reservation and one settlement hop each would be 120; shared, far fewer.
    assert statements(counted) - before <= 30
    assert rows(tmp_path / "counted.db", token["id"], user["id"]) == (
        (1_000_000 - 61 * PER_REQUEST, 61 * PER_REQUEST), (10_000_000 - 61 * PER_REQUEST, 61 * PER_REQUEST, 61))


def test_a_short_user_in_a_shared_write_gives_the_token_its_quota_back(counted, upstream, tmp_path) -> None:
    user_budget = PER_REQUEST * 5 + 7
    _, user, token = setup(counted, upstream.base_url, user_budget, 1_000_000)
    upstream.latency = 0.2
    try:
        results = asyncio.run(_load([counted.base_url], token["key"], 30))
    finally:
        upstream.latency = 0
    served = results.count(200)
    assert 0 < served <= 5 and results.count(403) == 30 - served
    refused = httpx.post(counted.base_url + "/v1/chat/completions", headers={"Authorization": f"Bearer sk-{token['key']}"},
                         json={"model": "test-model", "max_tokens": 10_000,
                               "messages": [{"role": "user", "content": "hi"}]}).json()
    assert refused["error"]["code"] == "insufficient_user_quota"
    statements(counted)  # a management read: pending settlements are written first
    token_row, user_row = rows(tmp_path / "counted.db", token["id"], user["id"])
    # Only the served requests cost the token anything; the refused claims' token part came back.
    assert token_row == (1_000_000 - served * PER_REQUEST, served * PER_REQUEST)
    assert user_row == (user_budget - served * PER_REQUEST, served * PER_REQUEST, served)
    with sqlite3.connect(tmp_path / "counted.db") as conn:
        assert conn.execute("SELECT count(*) FROM logs WHERE type = 2").fetchone()[0] == served
