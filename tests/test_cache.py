"""The hot path's cache on a real SQLite database: requests that miss together share one query,
and a drop (a write through the API) is never undone by a load that was under way."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from oneapi import models
from oneapi.cache import Cache
from tests.dbs import sqlite_database

pytestmark = pytest.mark.timeout(60)


async def _accounts() -> tuple[models.User, models.Token]:
    user = await models.User.create(username="cached", password="x", quota=1000)
    token = await models.Token.create(user_id=user.id, key="c" * 48, name="t", remain_quota=300, created_time=0)
    return user, token


async def test_requests_that_miss_together_share_one_query(tmp_path) -> None:
    async with sqlite_database(tmp_path / "cache.db", ONEAPI_DB_STATS=True) as db:
        user, token = await _accounts()
        cache = Cache(ttl=60)
        before = db.statements
        tokens = await asyncio.gather(*(cache.token(token.key) for _ in range(50)))
        users = await asyncio.gather(*(cache.user(user.id) for _ in range(50)))
        assert {t.id for t in tokens if t} == {token.id} and all(tokens)
        assert {u.quota for u in users if u} == {1000} and all(users)
        assert db.statements - before == 2  # one token query, one user query
        await cache.token(token.key)
        assert db.statements - before == 2  # then held
        missing = await asyncio.gather(*(cache.token("x" * 48) for _ in range(10)))
        assert missing == [None] * 10 and db.statements - before == 3


async def test_a_drop_during_a_load_is_not_undone(tmp_path) -> None:
    async with sqlite_database(tmp_path / "drop.db", ONEAPI_DB_STATS=True) as db:
        user, token = await _accounts()
        cache = Cache(ttl=60)
        before = db.statements
        first = asyncio.ensure_future(cache.token(token.key))
        for _ in range(3):
            await asyncio.sleep(0)  # its query is under way
        with sqlite3.connect(tmp_path / "drop.db") as other:
            other.execute("UPDATE tokens SET status = 2 WHERE id = ?", (token.id,))
        cache.invalidate_token(token.key)  # what the API does after such a write
        second = await cache.token(token.key)
        await first
        assert db.statements - before == 2  # the second caller did not join the first load
        assert second is not None and second.status == 2
        held = await cache.token(token.key)
        assert held is not None and held.status == 2 and db.statements - before == 2
        cache.invalidate_user(user.id)  # drops the user's tokens too
        assert (await cache.token(token.key)) is not None and db.statements - before == 3
