"""What the hot path reads without touching the database: tokens, users, channels.

The in-process backend is the default; writes through the API invalidate what they change,
and ``SYNC_FREQUENCY`` reloads everything as a safety net.
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
from collections.abc import Iterable
from typing import Any

from . import models
from .db import split_list
from .relay.context import ChannelRecord, TokenRecord, UserRecord

__all__ = ["Cache", "ChannelTable", "channel_record", "token_record", "user_record"]


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
    return ChannelRecord(
        id=row.id,
        type=row.type,
        name=row.name,
        key=row.key,
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


class Cache:
    """In-process cache of tokens, users and the channel table."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._tokens: dict[str, tuple[float, TokenRecord | None]] = {}
        self._users: dict[int, tuple[float, UserRecord | None]] = {}
        self.channels = ChannelTable(())

    async def token(self, key: str) -> TokenRecord | None:
        hit = self._tokens.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await models.Token.filter(key=key).first()
        record = token_record(row) if row else None
        self._tokens[key] = (now + (self.ttl if record else 5), record)
        return record

    async def user(self, user_id: int) -> UserRecord | None:
        hit = self._users.get(user_id)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await models.User.filter(id=user_id).first()
        record = user_record(row) if row else None
        self._users[user_id] = (now + self.ttl, record)
        return record

    def invalidate_token(self, key: str) -> None:
        self._tokens.pop(key, None)

    def invalidate_user(self, user_id: int) -> None:
        self._users.pop(user_id, None)
        for key, (_, record) in list(self._tokens.items()):
            if record is not None and record.user_id == user_id:
                self._tokens.pop(key, None)

    async def reload_channels(self) -> None:
        rows = await models.Channel.all()
        self.channels = ChannelTable(channel_record(r) for r in rows)

    async def reload_all(self) -> None:
        self._tokens.clear()
        self._users.clear()
        await self.reload_channels()
