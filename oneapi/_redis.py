"""The shared Redis of a multi-node deployment: a small key/value store and an
invalidation channel, both tolerant of Redis going away and coming back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["RedisLink"]

log = logging.getLogger("oneapi.redis")

CHANNEL = "oneapi:invalidate"
PING_INTERVAL = 0.25  # s between pings on the subscription's connection
LIVE_WINDOW = 1.0  # s: invalidations count as received while a ping this recent was answered
SILENCE_LIMIT = 3.0  # s without any answer on the subscription: reconnect


class RedisLink:
    """Get/set/delete and publish/subscribe on Redis; failures are misses, logged once.

    ``live()`` says whether other nodes' invalidations are being received: the subscription is
    up and a ping sent on its connection less than ``LIVE_WINDOW`` ago has been answered (an
    answer arrives after every message published before the ping). A dead or silent Redis, a
    cut or black-holed connection all end it within that window; after such a gap
    ``on_reconnect`` runs again (messages may have been missed).
    """

    def __init__(self, url: str, on_message: Callable[[str], None], on_reconnect: Callable[[], None]) -> None:
        self.client = aioredis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0,
                                        health_check_interval=5)
        self.on_message = on_message
        self.on_reconnect = on_reconnect
        self.subscribed = False
        self.confirmed = -LIVE_WINDOW  # monotonic time of the latest ping answered on the subscription
        self._down_logged = False
        self._task: asyncio.Task[None] | None = None

    def live(self, now: float | None = None) -> bool:
        """Whether invalidations published up to ``LIVE_WINDOW`` ago have surely arrived."""
        return self.subscribed and (time.monotonic() if now is None else now) - self.confirmed < LIVE_WINDOW

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

    async def delete(self, *keys: str) -> bool:
        try:
            await self.client.delete(*keys)
        except (RedisError, OSError) as exc:
            self._down(exc)
            return False
        return True

    async def forget_records(self) -> None:
        """Delete every cached token and user record (after an outage some may be stale)."""
        try:
            async for key in self.client.scan_iter(match="token:*", count=500):
                await self.client.delete(key)
            async for key in self.client.scan_iter(match="user:*", count=500):
                await self.client.delete(key)
        except (RedisError, OSError) as exc:
            self._down(exc)

    async def publish(self, message: str) -> bool:
        try:
            await self.client.publish(CHANNEL, message)
        except (RedisError, OSError) as exc:
            self._down(exc)
            return False
        return True

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
                await self._receive(pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError, TimeoutError) as exc:
                self._down(exc)
                await asyncio.sleep(0.5)
            finally:
                self.subscribed = False
                try:
                    await pubsub.aclose()
                except (RedisError, OSError, RuntimeError):
                    pass

    async def _receive(self, pubsub: Any) -> None:
        """Messages and the answers to our pings, until the connection fails or falls silent.
        The first answer confirms the subscription: what was cached before it (when messages
        could not arrive) is dropped then, and again after any later gap in the answers."""
        next_ping = heard = time.monotonic()
        first = True
        while True:
            now = time.monotonic()
            if now - heard > SILENCE_LIMIT:
                raise TimeoutError(f"no answer from Redis for {SILENCE_LIMIT:g} s")
            if now >= next_ping:
                async with asyncio.timeout(LIVE_WINDOW):
                    await pubsub.ping(repr(now))
                next_ping = now + PING_INTERVAL
            message: Any = await pubsub.get_message(ignore_subscribe_messages=True,
                                                    timeout=max(next_ping - time.monotonic(), 0.01))
            if not message:
                continue
            heard = time.monotonic()
            data = message.get("data")
            text = data.decode() if isinstance(data, bytes) else str(data)
            if message.get("type") == "message":
                self.on_message(text)
            elif message.get("type") == "pong":
                try:
                    sent = float(text)
                except ValueError:
                    continue
                if first or sent - self.confirmed > LIVE_WINDOW:
                    first = False
                    self.on_reconnect()  # subscribed now, or answers had stopped: messages may be lost
                self.confirmed = max(self.confirmed, sent)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.aclose()
