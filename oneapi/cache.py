"""What the hot path reads without touching the database: tokens, users, channels.

The in-process backend is the default; writes through the API invalidate what they change,
and ``SYNC_FREQUENCY`` reloads everything as a safety net.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import orjson

from . import crypto, models
from ._redis import RedisLink
from .db import split_list
from .relay.context import ChannelRecord, TokenRecord, UserRecord

__all__ = ["MAX_UNKNOWN_KEYS", "STALE_BOUND", "Cache", "ChannelTable", "channel_record", "token_record",
           "user_record"]

T = TypeVar("T")

#: Seconds an entry may be used while this node may be missing invalidations (Redis
#: configured but unreachable, the subscription cut or silent).
STALE_BOUND = 1.0
#: Seconds an unknown key stays known as unknown (at most; a new token is found after that).
UNKNOWN_TTL = 5.0
#: Unknown keys remembered at most (least recently asked forgotten first): anyone may send keys.
MAX_UNKNOWN_KEYS = 10_000


def token_record(row: models.Token) -> TokenRecord:
    allowed = split_list(row.models)
    subnets = tuple(ipaddress.ip_network(s, strict=False) for s in split_list(row.subnet))
    return TokenRecord(
        id=row.id,
        user_id=row.user_id,
        key=row.key,
        name=row.name,
        status=row.status,
        expired_time=row.expired_time,
        remain_quota=row.remain_quota,
        unlimited_quota=bool(row.unlimited_quota),
        models=frozenset(allowed) if allowed else None,
        subnets=subnets,
    )


def user_record(row: models.User) -> UserRecord:
    return UserRecord(row.id, row.username, row.role, row.status, row.group or "default", row.quota)


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def channel_record(row: models.Channel) -> ChannelRecord:
    """What the relay reads of a channel; its key decrypted (CRYPTO_SECRET) here, once per load
    of the channel table, never per request."""
    return ChannelRecord(
        id=row.id,
        type=row.type,
        name=row.name,
        key=crypto.reveal(row.key, crypto.CHANNEL_KEY, f"the key of channel {row.id}"),
        status=row.status,
        base_url=row.base_url or "",
        models=tuple(split_list(row.models)),
        groups=tuple(split_list(row.group)),
        model_mapping={k: str(v) for k, v in _json_object(row.model_mapping).items() if v},
        priority=int(row.priority or 0),
        weight=int(row.weight or 0),
        config=_json_object(row.config),
        other=row.other or "",
        system_prompt=row.system_prompt or "",
        organization=row.openai_organization or "",
    )


class ChannelTable:
    """Enabled channels by (group, model), in priority tiers, for selection."""

    def __init__(self, channels: Iterable[ChannelRecord]) -> None:
        self.by_id: dict[int, ChannelRecord] = {}
        tiers: dict[tuple[str, str], dict[int, list[ChannelRecord]]] = {}
        for ch in channels:
            self.by_id[ch.id] = ch
            if ch.status != models.CHANNEL_ENABLED:
                continue
            for group in ch.groups:
                for model in ch.models:
                    tiers.setdefault((group, model), {}).setdefault(ch.priority, []).append(ch)
        self.tiers = {
            key: [by_priority[p] for p in sorted(by_priority, reverse=True)]
            for key, by_priority in tiers.items()
        }

    def models_for(self, group: str) -> list[str]:
        return sorted({model for (g, model) in self.tiers if g == group})

    def serving_type(self, group: str, model: str) -> int | None:
        """The channel type of the first channel in the top tier serving ``model`` to ``group``."""
        tiers = self.tiers.get((group, model))
        return tiers[0][0].type if tiers else None

    def pick(
        self, group: str, model: str, exclude: set[int], rng: random.Random
    ) -> ChannelRecord | None:
        """Highest tier first; weighted random inside a tier (weight 0 counts as 1)."""
        for tier in self.tiers.get((group, model), ()):
            candidates = [c for c in tier if c.id not in exclude]
            if not candidates:
                continue
            if len(candidates) == 1:
                return candidates[0]
            weights = [max(c.weight, 0) or 1 for c in candidates]
            return rng.choices(candidates, weights=weights, k=1)[0]
        return None


def _token_json(record: TokenRecord) -> bytes:
    data = {f: getattr(record, f) for f in TokenRecord.__slots__}  # type: ignore[attr-defined]
    data["models"] = sorted(record.models) if record.models is not None else None
    data["subnets"] = [str(net) for net in record.subnets]
    return orjson.dumps(data)


def _token_from_json(raw: bytes) -> TokenRecord:
    data = orjson.loads(raw)
    data["models"] = frozenset(data["models"]) if data["models"] is not None else None
    data["subnets"] = tuple(ipaddress.ip_network(s, strict=False) for s in data["subnets"])
    return TokenRecord(**data)


def _user_json(record: UserRecord) -> bytes:
    return orjson.dumps({f: getattr(record, f) for f in UserRecord.__slots__})  # type: ignore[attr-defined]


class Cache:
    """Tokens, users and the channel table, kept in process and (with Redis) shared.

    Without Redis the in-process entries live ``ttl`` seconds (SYNC_FREQUENCY) and every
    write through the API drops what it changed on this node. With Redis, records are also
    stored there for other nodes and every write is published, so all nodes drop it within
    milliseconds. Whenever this node may miss such a message (Redis unreachable, the
    subscription cut or not answering its pings: ``RedisLink.live``), no entry older than
    ``STALE_BOUND`` (1 s) is used: it is read again from the database. Keys found in no
    token are remembered for ``UNKNOWN_TTL`` seconds, at most ``max_unknown`` of them.
    """

    def __init__(self, ttl: float, enabled: bool = True, redis_url: str = "",
                 max_unknown: int = MAX_UNKNOWN_KEYS) -> None:
        self.ttl = ttl if enabled else 0.0
        self.max_unknown = max_unknown
        self._tokens: dict[str, tuple[float, TokenRecord]] = {}  # key -> (loaded at, record)
        self._unknown: OrderedDict[str, float] = OrderedDict()  # key -> loaded at, oldest use first
        self._users: dict[int, tuple[float, UserRecord | None]] = {}
        self.channels = ChannelTable(())
        self.redis: RedisLink | None = None
        if redis_url:
            self.redis = RedisLink(redis_url, self._on_message, self._on_reconnect)
        self.on_options_changed: Callable[[], Awaitable[None]] | None = None
        self.on_accounts_changed: Callable[[], None] | None = None  # a token or user was written
        self._pending: set[asyncio.Task[Any]] = set()
        self._loading: dict[tuple[str, object], asyncio.Future[Any]] = {}
        self._generation = 0  # bumped by every drop: a load that straddles one is not kept
        self._unsent: set[str] = set()  # invalidations Redis did not take: sent again when it is back

    def start(self) -> None:
        if self.redis is not None:
            self.redis.start()

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self.redis is not None:
            await self.redis.close()

    def _live(self, now: float) -> bool:
        """Whether writes on other nodes reach this one at once (no Redis: there are none, or
        ``ttl`` is short enough; with Redis: its subscription answers)."""
        return self.redis is None or self.redis.live(now)

    def _fresh(self, loaded: float, limit: float, now: float) -> bool:
        age = now - loaded
        return age < limit and (age < STALE_BOUND or self._live(now))

    async def token(self, key: str) -> TokenRecord | None:
        now = time.monotonic()
        hit = self._tokens.get(key)
        if hit is not None and self._fresh(hit[0], self.ttl, now):
            return hit[1]
        seen = self._unknown.get(key)
        if seen is not None and self._fresh(seen, min(UNKNOWN_TTL, self.ttl), now):
            self._unknown.move_to_end(key)
            return None
        return await self._once(("token", key), lambda: self._load_token(key))

    async def user(self, user_id: int) -> UserRecord | None:
        hit = self._users.get(user_id)
        if hit is not None and self._fresh(hit[0], self.ttl, time.monotonic()):
            return hit[1]
        return await self._once(("user", user_id), lambda: self._load_user(user_id))

    async def _once(self, key: tuple[str, object], load: Callable[[], Awaitable[T]]) -> T:
        """``load()``, shared by every caller that misses ``key`` while it runs: when an entry
        expires under load, one query refreshes it instead of one per waiting request."""
        future = self._loading.get(key)
        if future is None:
            future = asyncio.ensure_future(load())
            self._loading[key] = future
            future.add_done_callback(functools.partial(self._loaded, key))
        return await asyncio.shield(future)  # type: ignore[no-any-return]

    def _loaded(self, key: tuple[str, object], future: asyncio.Future[Any]) -> None:
        if self._loading.get(key) is future:
            del self._loading[key]
        if not future.cancelled():
            future.exception()  # retrieved even when every waiter has gone

    def _shared(self, now: float) -> RedisLink | None:
        """Redis for records, only while its invalidations arrive (else its records may be stale,
        and a black-holed Redis would make every miss wait for its timeout)."""
        return self.redis if self.redis is not None and self.redis.live(now) else None

    async def _load_token(self, key: str) -> TokenRecord | None:
        now, generation = time.monotonic(), self._generation
        shared = self._shared(now)
        record: TokenRecord | None = None
        raw = await shared.get(f"token:{key}") if shared is not None else None
        if raw is not None:
            record = _token_from_json(raw)
        else:
            row = await models.Token.filter(key=key).first()
            record = token_record(row) if row else None
            if record is not None and shared is not None and generation == self._generation:
                await shared.set(f"token:{key}", _token_json(record), self.ttl)
        if generation == self._generation and self.ttl > 0:  # not read before a write that dropped it
            if record is None:
                self._remember_unknown(key, now)
            else:
                self._tokens[key] = (now, record)
                self._unknown.pop(key, None)
        return record

    def _remember_unknown(self, key: str, now: float) -> None:
        self._unknown[key] = now
        self._unknown.move_to_end(key)
        while len(self._unknown) > self.max_unknown:
            self._unknown.popitem(last=False)
        self._tokens.pop(key, None)

    async def _load_user(self, user_id: int) -> UserRecord | None:
        now, generation = time.monotonic(), self._generation
        shared = self._shared(now)
        record: UserRecord | None = None
        raw = await shared.get(f"user:{user_id}") if shared is not None else None
        if raw is not None:
            record = UserRecord(**orjson.loads(raw))
        else:
            row = await models.User.filter(id=user_id).first()
            record = user_record(row) if row else None
            if record is not None and shared is not None and generation == self._generation:
                await shared.set(f"user:{user_id}", _user_json(record), self.ttl)
        if generation == self._generation and self.ttl > 0:
            self._users[user_id] = (now, record)
        return record

    def _forget(self) -> None:
        """Something was dropped: loads under way may have read it before the write, so they
        are neither kept nor joined."""
        self._generation += 1
        self._loading.clear()

    # --- invalidation: this node at once, the others through Redis ---

    def _publish(self, message: str, *keys: str) -> None:
        if self.redis is None:
            return
        self._spawn(self._send(message, keys))

    async def _send(self, message: str, keys: tuple[str, ...]) -> None:
        """Delete ``keys`` and publish ``message``; what Redis does not take is kept and sent
        again once it is back (``_on_reconnect``), so that other nodes still hear of it."""
        assert self.redis is not None
        if (not keys or await self.redis.delete(*keys)) and await self.redis.publish(message):
            return
        if len(self._unsent) < MAX_UNKNOWN_KEYS:
            self._unsent.add(message)
        else:
            self._unsent = {"accounts"}  # too many to name: every node drops every account

    def _accounts_changed(self) -> None:
        if self.on_accounts_changed is not None:
            self.on_accounts_changed()

    def invalidate_token(self, key: str) -> None:
        self._drop_token(key)
        self._publish(f"token:{key}", f"token:{key}")

    def invalidate_user(self, user_id: int) -> None:
        self._drop_user(user_id)
        self._publish(f"user:{user_id}", f"user:{user_id}")

    def _drop_token(self, key: str) -> None:
        self._tokens.pop(key, None)
        self._unknown.pop(key, None)
        self._forget()
        self._accounts_changed()

    def _drop_user(self, user_id: int) -> None:
        self._users.pop(user_id, None)
        self._forget()
        self._accounts_changed()
        for key, (_, record) in list(self._tokens.items()):
            if record is not None and record.user_id == user_id:
                self._tokens.pop(key, None)

    async def reload_channels(self, publish: bool = True) -> None:
        rows = await models.Channel.all()
        self.channels = ChannelTable(channel_record(r) for r in rows)
        if publish:
            self._publish("channels")

    def options_changed(self) -> None:
        self._publish("options")

    async def reload_all(self) -> None:
        self._drop_accounts()
        await self.reload_channels(publish=False)

    def _on_message(self, message: str) -> None:
        kind, _, key = message.partition(":")
        if kind == "token":
            self._drop_token(key)
        elif kind == "user" and key.isdigit():
            self._drop_user(int(key))
        elif kind == "accounts":
            self._drop_accounts()
            self._accounts_changed()
        elif kind == "channels":
            self._spawn(self.reload_channels(publish=False))
        elif kind == "options" and self.on_options_changed is not None:
            self._spawn(self.on_options_changed())

    def _drop_accounts(self) -> None:
        self._tokens.clear()
        self._unknown.clear()
        self._users.clear()
        self._forget()

    def _on_reconnect(self) -> None:
        """Messages may have been missed while Redis was away: forget what is held, and tell
        the others what was written here meanwhile."""
        self._drop_accounts()
        self._accounts_changed()
        if self.redis is not None:
            self._spawn(self.redis.forget_records())
            unsent, self._unsent = self._unsent, set()
            for message in sorted(unsent):
                kind = message.partition(":")[0]
                self._publish(message, *((message,) if kind in ("token", "user") else ()))

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
