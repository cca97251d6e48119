"""The hot path's cache against an attacker and against Redis going away (issue 18): unknown keys
are remembered in a bounded LRU; while invalidations may be missed no entry older than 1 s is
used; invalidations Redis did not take are sent again when it is back."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

import pytest

from oneapi import models
from oneapi._redis import LIVE_WINDOW, RedisLink
from oneapi.cache import MAX_UNKNOWN_KEYS, STALE_BOUND, Cache
from tests.dbs import sqlite_database
from tests.services import require_service

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


class _Link:
    """A RedisLink stand-in: ``up`` says whether invalidations arrive; records calls."""

    def __init__(self, up: bool) -> None:
        self.up = up
        self.published: list[str] = []
        self.deleted: list[str] = []
        self.failing = False

    def live(self, now: float | None = None) -> bool:
        return self.up

    async def get(self, key: str) -> bytes | None:
        return None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        pass

    async def delete(self, *keys: str) -> bool:
        if self.failing:
            return False
        self.deleted.extend(keys)
        return True

    async def publish(self, message: str) -> bool:
        if self.failing:
            return False
        self.published.append(message)
        return True

    async def forget_records(self) -> None:
        pass


async def _disable_in_database(path: Any, token_id: int) -> None:
    with sqlite3.connect(path) as other:  # another node's write: this one is not told
        other.execute("UPDATE tokens SET status = 2 WHERE id = ?", (token_id,))


@pytest.mark.parametrize("live", [True, False])
async def test_entries_outlive_one_second_only_while_invalidations_arrive(tmp_path, live: bool) -> None:
    async with sqlite_database(tmp_path / "stale.db") as _:
        token = await _token()
        cache = Cache(ttl=600)
        cache.redis = _Link(up=live)  # type: ignore[assignment]
        assert (await cache.token(token.key)).status == 1  # type: ignore[union-attr]
        await _disable_in_database(tmp_path / "stale.db", token.id)
        assert (await cache.token(token.key)).status == 1  # type: ignore[union-attr]  # within the bound
        await asyncio.sleep(STALE_BOUND + 0.05)
        seen = await cache.token(token.key)
        assert seen is not None and seen.status == (1 if live else 2)


async def test_an_entry_cached_while_live_is_read_again_once_invalidations_stop(tmp_path) -> None:
    async with sqlite_database(tmp_path / "stop.db") as _:
        token = await _token()
        cache = Cache(ttl=600)
        link = _Link(up=True)
        cache.redis = link  # type: ignore[assignment]
        await cache.token(token.key)
        await asyncio.sleep(STALE_BOUND + 0.05)
        await _disable_in_database(tmp_path / "stop.db", token.id)
        assert (await cache.token(token.key)).status == 1  # type: ignore[union-attr]  # live: the message would have come
        link.up = False  # Redis went away: the message may be lost
        assert (await cache.token(token.key)).status == 2  # type: ignore[union-attr]


async def test_invalidations_redis_did_not_take_are_sent_again_when_it_is_back() -> None:
    cache = Cache(ttl=600)
    link = _Link(up=False)
    cache.redis = link  # type: ignore[assignment]
    link.failing = True
    cache.invalidate_token("abc")
    cache.invalidate_user(7)
    await asyncio.gather(*cache._pending)
    assert link.published == [] and cache._unsent == {"token:abc", "user:7"}
    link.failing = False
    cache._on_reconnect()
    await asyncio.gather(*cache._pending)
    assert sorted(link.published) == ["token:abc", "user:7"] and sorted(link.deleted) == ["token:abc", "user:7"]
    assert cache._unsent == set()


async def test_a_link_to_a_running_redis_is_live_and_one_to_nothing_is_not() -> None:
    require_service("Redis")
    reconnects: list[float] = []
    link = RedisLink("redis://127.0.0.1:6379/7", lambda message: None, lambda: reconnects.append(time.monotonic()))
    link.start()
    try:
        deadline = time.monotonic() + 5
        while not link.live():
            assert time.monotonic() < deadline, "the subscription never answered"
            await asyncio.sleep(0.02)
        for _ in range(6):  # stays live: pings keep being answered
            await asyncio.sleep(LIVE_WINDOW / 3)
            assert link.live()
        assert len(reconnects) == 1  # the first answer confirmed the subscription once
    finally:
        await link.close()
    dead = RedisLink("redis://127.0.0.1:1/0", lambda message: None, lambda: None)
    dead.start()
    try:
        await asyncio.sleep(0.5)
        assert not dead.live()
    finally:
        await dead.close()
