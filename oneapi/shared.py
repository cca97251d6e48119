"""Short-lived values every worker and node sees: email codes, failed-login counts, attempt
windows. In Redis when it is configured and answering, else in the database (``ephemerals``),
so ``--workers N`` without Redis shares them too."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from . import models
from .db import write_transaction

if TYPE_CHECKING:
    from ._redis import RedisLink
    from .gateway import Gateway

__all__ = ["SharedState", "shared_state"]

log = logging.getLogger("oneapi.shared")
_PREFIX = "oneapi:shared:"


class SharedState:
    """Values with a lifetime, by key (at most 191 characters)."""

    def __init__(self, redis: RedisLink | None) -> None:
        self._redis = redis
        self._last_sweep = 0.0

    def _client(self):  # type: ignore[no-untyped-def]
        return self._redis.client if self._redis is not None else None

    async def get(self, key: str) -> str | None:
        if (client := self._client()) is not None:
            try:
                value = await client.get(_PREFIX + key)
                return value.decode() if value is not None else None
            except Exception as exc:  # noqa: BLE001 - Redis down: the database stands in
                log.warning("shared state: Redis unavailable (%s); using the database", exc)
        row = await models.Ephemeral.filter(key=key, expires_at__gt=_now()).first()
        return row.value if row is not None else None

    async def put(self, key: str, value: str, ttl: float) -> None:
        if (client := self._client()) is not None:
            try:
                await client.set(_PREFIX + key, value.encode(), px=max(int(ttl * 1000), 1))
                return
            except Exception as exc:  # noqa: BLE001
                log.warning("shared state: Redis unavailable (%s); using the database", exc)
        await self._sweep()
        expires = _now() + max(int(ttl), 1)
        async with write_transaction():
            updated = await models.Ephemeral.filter(key=key).update(value=value, expires_at=expires)
            if not updated:
                await models.Ephemeral.create(key=key, value=value, expires_at=expires)

    async def take(self, key: str) -> str | None:
        """The value, removed: only one caller gets it (a code is used once)."""
        if (client := self._client()) is not None:
            try:
                value = await client.getdel(_PREFIX + key)
                return value.decode() if value is not None else None
            except Exception as exc:  # noqa: BLE001
                log.warning("shared state: Redis unavailable (%s); using the database", exc)
        async with write_transaction():
            row = await models.Ephemeral.filter(key=key, expires_at__gt=_now()).select_for_update().first()
            if row is None:
                return None
            await models.Ephemeral.filter(key=key).delete()
            return row.value

    async def count(self, key: str, window: float) -> int:
        """Add one to the count under ``key`` and return it; a count starts anew ``window``
        seconds after its first."""
        if (client := self._client()) is not None:
            try:
                name = _PREFIX + key
                pipe = client.pipeline()
                pipe.incr(name)
                pipe.expire(name, max(int(window), 1), nx=True)
                return int((await pipe.execute())[0])
            except Exception as exc:  # noqa: BLE001
                log.warning("shared state: Redis unavailable (%s); using the database", exc)
        await self._sweep()
        now = _now()
        async with write_transaction():
            row = await models.Ephemeral.filter(key=key).select_for_update().first()
            if row is None or row.expires_at <= now:
                await models.Ephemeral.filter(key=key).delete()
                await models.Ephemeral.create(key=key, value="1", expires_at=now + max(int(window), 1))
                return 1
            value = int(row.value) + 1
            await models.Ephemeral.filter(key=key).update(value=str(value))
            return value

    async def delete(self, key: str) -> None:
        if (client := self._client()) is not None:
            try:
                await client.delete(_PREFIX + key)
            except Exception as exc:  # noqa: BLE001
                log.warning("shared state: Redis unavailable (%s); using the database", exc)
        await models.Ephemeral.filter(key=key).delete()

    async def _sweep(self) -> None:
        """Drop expired rows now and then, so the table stays small."""
        moment = time.monotonic()
        if moment - self._last_sweep < 60:
            return
        self._last_sweep = moment
        await models.Ephemeral.filter(expires_at__lte=_now()).delete()


def shared_state(gw: Gateway) -> SharedState:
    """The app's shared state (made on first use, over the cache's Redis link)."""
    found = gw.memo.get("shared_state")
    if found is None:
        found = gw.memo["shared_state"] = SharedState(gw.cache.redis)
    return found  # type: ignore[no-any-return]


def _now() -> int:
    return int(time.time())
