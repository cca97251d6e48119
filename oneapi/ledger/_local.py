"""Quota reservations held in memory, for BATCH_UPDATE_ENABLED: no database round trip per request.

A balance is the row's value as last read from the database plus the changes still pending
in the writer (reservations, settlements). A reservation is checked and taken in one synchronous
step on the event loop, so within one process it is exact, as the conditional UPDATEs are.
A balance is read again when it is older than ``ttl`` seconds and whenever it looks too
small (so a top-up counts at once). Several processes sharing a database each see only
their own pending changes: together they can overdraw by what the others reserved since
their last flush and read. That is the price of batching, as in One API; leave
BATCH_UPDATE_ENABLED off where limits must hold exactly across nodes.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..db import Database
    from ._writer import Writer

__all__ = ["LocalQuota"]

_BALANCE_SQL = {
    "tokens": "SELECT remain_quota AS quota FROM tokens WHERE id = ?",
    "users": "SELECT quota FROM users WHERE id = ?",
}


class LocalQuota:
    """Remaining quota of tokens and users as this process sees it, and reservations against it."""

    def __init__(self, db: Database, writer: Writer, ttl: float) -> None:
        self.db = db
        self.writer = writer
        self.ttl = ttl
        self._read: dict[tuple[str, int], tuple[int, float]] = {}  # (table, id) -> (DB value, read at)
        writer.deltas = {}
        writer.on_written = self._written

    def _written(self, table: str, row_id: int, quota_delta: int) -> None:
        """A flush moved ``quota_delta`` from the batch into the row: fold it into what was read."""
        entry = self._read.get((table, row_id))
        if entry is not None:
            self._read[(table, row_id)] = (entry[0] + quota_delta, entry[1])

    def balance(self, table: str, row_id: int) -> int | None:
        """The row's remaining quota as seen here, or None when not read within ``ttl``."""
        entry = self._read.get((table, row_id))
        if entry is None or time.monotonic() - entry[1] > self.ttl:
            return None
        return entry[0] + self.writer.unwritten(table, row_id)

    async def _refresh(self, keys: list[tuple[str, int]]) -> None:
        async with self.writer.quiet():  # a flush half-way through would be counted twice
            for table, row_id in keys:
                rows = await self.db.fetch(_BALANCE_SQL[table], [row_id])
                self._read[(table, row_id)] = (int(rows[0]["quota"]) if rows else 0, time.monotonic())

    async def reserve(self, token_id: int | None, user_id: int, amount: int) -> str:
        """Take ``amount`` from the token (None: unlimited) and the user: "ok", or whose quota
        ("token" or "user") is short, after reading both afresh."""
        keys = _keys(token_id, user_id)
        for fresh in (False, True):
            stale = keys if fresh else [key for key in keys if self.balance(*key) is None]
            if stale:
                await self._refresh(stale)
            short = next((key for key in keys if (self.balance(*key) or 0) < amount), None)
            if short is None:  # checked here; the caller queues the take with no await in between
                return "ok"
        assert short is not None
        return "token" if short[0] == "tokens" else "user"

    def forget(self) -> None:
        """Read every balance again on next use (after an administrator changed quotas)."""
        self._read.clear()


def _keys(token_id: int | None, user_id: int) -> list[tuple[str, int]]:
    return ([("tokens", token_id)] if token_id is not None else []) + [("users", user_id)]
