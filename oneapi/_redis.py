"""The shared Redis of a multi-node deployment: a small key/value store and an
invalidation channel, both tolerant of Redis going away and coming back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["RedisLink"]

log = logging.getLogger("oneapi.redis")

CHANNEL = "oneapi:invalidate"


class RedisLink:
    """Get/set/delete and publish/subscribe on Redis; failures are misses, logged once."""

    def __init__(self, url: str, on_message: Callable[[str], None], on_reconnect: Callable[[], None]) -> None:
        self.client = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0,
                                        health_check_interval=5)
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.subscribed = False
        self._down_logged = False
        self._task: asyncio.Task[None] | None = None

    def _down(self, exc: Exception) -> None:
        self.subscribed = False
        if not self._down_logged:
            self._down_logged = True
            log.warning("Redis is unavailable (%s); serving from the database until it returns", exc)

    def _up(self) -> None:
        if self._down_logged:
            self._down_logged = False
            log.warning("Redis is back")

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self.client.get(key)
            if isinstance(value, str):  # decode_responses is off: bytes; typed as either
                value = value.encode()
        except (RedisError, OSError) as exc:
            self._down(exc)
            return None
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self.client.set(key, value, px=max(int(ttl * 1000), 1))
        except (RedisError, OSError) as exc:
            self._down(exc)

    async def delete(self, *keys: str) -> None:
        try:
            await self.client.delete(*keys)
        except (RedisError, OSError) as exc:
            self._down(exc)

    async def forget_records(self) -> None:
        """Delete every cached token and user record (after an outage some may be stale)."""
        try:
            async for key in self.client.scan_iter(match="token:*", count=500):
                await self.client.delete(key)
            async for key in self.client.scan_iter(match="user:*", count=500):
                await self.client.delete(key)
        except (RedisError, OSError) as exc:
            self._down(exc)

    async def publish(self, message: str) -> None:
        try:
            await self.client.publish(CHANNEL, message)
        except (RedisError, OSError) as exc:
            self._down(exc)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-invalidation")

    async def _listen(self) -> None:
        """Apply other nodes' invalidations; after any gap, drop everything cached locally."""
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                self.subscribed = True
                self._up()
                self.on_reconnect()
                while True:
                    message: Any = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message and message.get("type") == "message":
                        data = message["data"]
                        self.on_message(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._down(exc)
                await asyncio.sleep(0.5)
            finally:
                self.subscribed = False
                try:
                    await pubsub.aclose()
                except (RedisError, OSError, RuntimeError):
                    pass

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.aclose()
