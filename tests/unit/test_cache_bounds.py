"""The hot path's cache against an attacker (issue 18): unknown keys are remembered in a bounded LRU."""

from __future__ import annotations

import pytest

from oneapi import models
from oneapi.cache import MAX_UNKNOWN_KEYS, Cache
from tests.dbs import sqlite_database

pytestmark = pytest.mark.timeout(60)


async def _token(key: str = "k" * 48) -> models.Token:
    user = await models.User.create(username="cached", password="x", quota=1000)
    return await models.Token.create(user_id=user.id, key=key, name="t", remain_quota=300, created_time=0)


async def test_unknown_keys_are_remembered_in_a_bounded_lru(tmp_path) -> None:
    assert MAX_UNKNOWN_KEYS == 10_000
    async with sqlite_database(tmp_path / "lru.db", ONEAPI_DB_STATS=True) as db:
        cache = Cache(ttl=60, max_unknown=100)
        await cache.token("kept")  # asked for again and again: the least recently used go first
        for i in range(250):
            assert await cache.token(f"unknown{i}") is None
            if i % 10 == 0:
                assert await cache.token("kept") is None
        assert len(cache._unknown) == 100
        assert "kept" in cache._unknown and "unknown249" in cache._unknown and "unknown0" not in cache._unknown
        before = db.statements
        assert await cache.token("unknown249") is None and await cache.token("kept") is None
        assert db.statements == before  # still answered from memory
        await cache.token("unknown0")
        assert db.statements == before + 1  # forgotten: asked the database again
        assert len(cache._unknown) == 100
