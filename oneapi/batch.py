"""Batched writes (BATCH_UPDATE_ENABLED): usage counters, refunds and log rows are summed
in memory and written in bulk every BATCH_UPDATE_INTERVAL seconds and at shutdown.

Quota reservations are never batched: they stay immediate conditional UPDATEs, so a hard
crash can lose at most one interval of counters and refunds, never let quota go negative.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from tortoise.expressions import F

from . import models

__all__ = ["Batch"]

log = logging.getLogger("oneapi.batch")


class Batch:
    """Pending additive updates per token, user and channel, and pending log rows."""

    def __init__(self) -> None:
        self.tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # refund, used, accessed
        self.users: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # refund, used, requests
        self.channels: dict[int, int] = defaultdict(int)
        self.logs: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
        self._inflight: asyncio.Future[int] | None = None

    def add(self, token_id: int, limited: bool, user_id: int, channel_id: int | None,
            refund: int, charged: int, now: int) -> None:
        token = self.tokens[token_id]
        token[0] += refund if limited else 0
        token[1] += charged
        token[2] = max(token[2], now)
        user = self.users[user_id]
        user[0] += refund
        user[1] += charged
        user[2] += 1
        if channel_id is not None and charged:
            self.channels[channel_id] += charged

    def add_log(self, fields: dict[str, Any]) -> None:
        self.logs.append(fields)

    def __len__(self) -> int:
        return len(self.tokens) + len(self.users) + len(self.channels) + len(self.logs)

    async def flush(self) -> int:
        """Write everything pending; returns how many statements were sent.

        The write runs shielded: a cancelled caller (the job loop at shutdown) does not cut it
        short, and the next flush waits for it. What fails to write is kept for the next flush.
        """
        async with self._lock:
            if self._inflight is not None and not self._inflight.done():
                await asyncio.shield(self._inflight)
            pending = Batch()
            pending.tokens, self.tokens = self.tokens, pending.tokens
            pending.users, self.users = self.users, pending.users
            pending.channels, self.channels = self.channels, pending.channels
            pending.logs, self.logs = self.logs, pending.logs
            self._inflight = asyncio.ensure_future(self._write(pending))
            return await asyncio.shield(self._inflight)

    async def _write(self, pending: Batch) -> int:
        statements = 0
        try:
            while pending.tokens:
                token_id, (refund, used, accessed) = next(iter(pending.tokens.items()))
                update: dict[str, Any] = {"used_quota": F("used_quota") + used, "accessed_time": accessed}
                if refund:
                    update["remain_quota"] = F("remain_quota") + refund
                await models.Token.filter(id=token_id).update(**update)
                del pending.tokens[token_id]
                statements += 1
            while pending.users:
                user_id, (refund, used, requests) = next(iter(pending.users.items()))
                update = {"used_quota": F("used_quota") + used, "request_count": F("request_count") + requests}
                if refund:
                    update["quota"] = F("quota") + refund
                await models.User.filter(id=user_id).update(**update)
                del pending.users[user_id]
                statements += 1
            while pending.channels:
                channel_id, used = next(iter(pending.channels.items()))
                await models.Channel.filter(id=channel_id).update(used_quota=F("used_quota") + used)
                del pending.channels[channel_id]
                statements += 1
            if pending.logs:
                await models.Log.bulk_create([models.Log(**f) for f in pending.logs], batch_size=500)
                pending.logs = []
                statements += 1
        except Exception:
            log.exception("batch flush failed; %d pending updates are kept for the next flush", len(pending))
            self._merge(pending)
        return statements

    def _merge(self, other: Batch) -> None:
        for token_id, values in other.tokens.items():
            mine = self.tokens[token_id]
            mine[0] += values[0]
            mine[1] += values[1]
            mine[2] = max(mine[2], values[2])
        for user_id, values in other.users.items():
            mine = self.users[user_id]
            for i in range(3):
                mine[i] += values[i]
        for channel_id, used in other.channels.items():
            self.channels[channel_id] += used
        self.logs = other.logs + self.logs
