"""Settlement writes, summed in memory and written together: usage counters, refunds of
over-reservations, and log rows; on SQLite also the reservations (claims) of waiting requests.

With BATCH_UPDATE_ENABLED they are flushed every BATCH_UPDATE_INTERVAL seconds and at
shutdown. Without it the batch is *continuous* (group commit): a claim is written at once,
and settlements wait at most ``SETTLE_DELAY`` for company (a lone request's settlement is
then written while the next request waits for its upstream, not while it is being parsed);
whatever arrives during a write goes into the next one, so under load many requests share
each transaction. SQLite writes run on the event loop's own connection while SQLite's write
lock is free (``Database.sqlite_here``), else in the database thread.

Without BATCH_UPDATE_ENABLED quota reservations are conditional UPDATEs written before the
upstream call (each claim has its own outcome), so a hard crash can lose at most the pending
counters and refunds, never let quota go negative. With it,
reservations are pending quota deltas here too, checked against balances held in memory
(oneapi/_local_quota.py): the first field of each token and user entry is the net change
to its remaining quota, the same field refunds use.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .db import Database

__all__ = ["Batch"]

SETTLE_DELAY = 0.005  # seconds a settlement may wait for others to share its write
LOCKED_RETRY = 0.001  # seconds between tries while SQLite's lock is held (uvloop makes shorter sleeps 0)
LOCKED_PATIENCE = 0.05  # seconds of such tries before the write goes to the database thread

RESERVE_TOKEN = "UPDATE tokens SET remain_quota = remain_quota - ? WHERE id = ? AND remain_quota >= ?"
RESERVE_USER = "UPDATE users SET quota = quota - ? WHERE id = ? AND quota >= ?"
REFUND_TOKEN = "UPDATE tokens SET remain_quota = remain_quota + ? WHERE id = ?"

_SETTLE_TOKEN = (
    "UPDATE tokens SET remain_quota = remain_quota + ?, used_quota = used_quota + ?, accessed_time = ? "
    "WHERE id = ?"
)
_SETTLE_USER = (
    "UPDATE users SET quota = quota + ?, used_quota = used_quota + ?, request_count = request_count + ? "
    "WHERE id = ?"
)
_CHANNEL_USED = "UPDATE channels SET used_quota = used_quota + ? WHERE id = ?"
_LOG_COLUMNS = (
    "user_id", "created_at", "type", "content", "username", "token_name", "model_name", "quota",
    "prompt_tokens", "completion_tokens", "channel_id", "request_id", "elapsed_time", "is_stream",
    "system_prompt_reset",
)
_INSERT_LOG = f"INSERT INTO logs ({', '.join(_LOG_COLUMNS)}) VALUES ({', '.join('?' * len(_LOG_COLUMNS))})"

log = logging.getLogger("oneapi.batch")


Claim = tuple[int | None, int, int, "asyncio.Future[str | None]"]  # token (None: unlimited), user, amount


def _claim(conn: sqlite3.Connection, token_id: int | None, user_id: int, amount: int) -> str:
    """One reservation inside the open transaction: "ok", or whose quota was short."""
    if token_id is not None and not conn.execute(RESERVE_TOKEN, (amount, token_id, amount)).rowcount:
        return "token"
    if not conn.execute(RESERVE_USER, (amount, user_id, amount)).rowcount:
        if token_id is not None:
            conn.execute(REFUND_TOKEN, (amount, token_id))
        return "user"
    return "ok"


def _write_in_one_transaction(conn: sqlite3.Connection, tokens: dict[int, list[int]], users: dict[int, list[int]],
                              channels: dict[int, int], logs: list[dict[str, Any]],
                              claims: list[Claim]) -> list[str]:
    """Everything pending in one SQLite transaction (one call, on the event loop's connection or
    in the database thread): settlements first (their refunds may make room), then the claims;
    returns the claims' outcomes."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(_SETTLE_TOKEN, [(r, u, a, token_id) for token_id, (r, u, a) in tokens.items()])
        conn.executemany(_SETTLE_USER, [(r, u, n, user_id) for user_id, (r, u, n) in users.items()])
        conn.executemany(_CHANNEL_USED, [(used, channel_id) for channel_id, used in channels.items()])
        conn.executemany(_INSERT_LOG, [[f.get(c) for c in _LOG_COLUMNS] for f in logs])
        outcomes = [_claim(conn, token_id, user_id, amount) for token_id, user_id, amount, _ in claims]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return outcomes


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


class Batch:
    """Pending additive updates per token, user and channel, and pending log rows."""

    def __init__(self, db: Database, continuous: bool = False) -> None:
        self.db = db
        self.continuous = continuous
        self._drainer: asyncio.Task[None] | None = None
        self.tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # refund, used, accessed
        self.users: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # refund, used, requests
        self.channels: dict[int, int] = defaultdict(int)
        self.logs: list[dict[str, Any]] = []
        self.claims: list[Claim] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._inflight: asyncio.Future[int] | None = None
        self._writing: Batch | None = None
        self.on_written: Callable[[str, int, int], None] | None = None  # (table, id, quota delta)

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
        self._kick()

    def claim(self, token_id: int | None, user_id: int, amount: int) -> asyncio.Future[str | None]:
        """Reserve ``amount`` from the token (None: unlimited) and the user: "ok", "token" or
        "user" (whose quota was short), or None where the database is not SQLite (the caller
        reserves itself). Written at once, alone, on the event loop's own connection when no
        write is under way (the future is then already done), else with the next write.
        Settlements stay with the writer: on the critical path of a request they would delay it."""
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.claims.append((token_id, user_id, amount, future))
        if not self._lock.locked() and (self._inflight is None or self._inflight.done()):
            pending = Batch(self.db)
            pending.claims, self.claims = self.claims, pending.claims
            if self._write_here(pending):
                return future
            self._merge(pending)
        self._wake.set()
        self._kick(urgent=True)
        return future

    def take(self, token_id: int | None, user_id: int, amount: int) -> None:
        """A reservation of ``amount`` from the token (None: unlimited) and the user, written later."""
        if token_id is not None:
            self.tokens[token_id][0] -= amount
        self.users[user_id][0] -= amount

    def unwritten(self, table: str, row_id: int) -> int:
        """The net quota change pending for one ``tokens`` or ``users`` row (not yet in the DB)."""
        total = 0
        for batch in (self, self._writing):
            entries = None if batch is None else batch.tokens if table == "tokens" else batch.users
            entry = None if entries is None else entries.get(row_id)
            total += entry[0] if entry is not None else 0
        return total

    def quiet(self) -> asyncio.Lock:
        """Held while a flush writes: readers of quota balances take it to see no half-written batch."""
        return self._lock

    def add_log(self, fields: dict[str, Any]) -> None:
        self.logs.append(fields)
        self._kick()

    def _kick(self, urgent: bool = False) -> None:
        if (self.continuous or urgent) and (self._drainer is None or self._drainer.done()):
            # A context of its own: the writer must not join a transaction open where it was kicked.
            self._drainer = asyncio.get_running_loop().create_task(self._drain(), context=contextvars.Context())

    async def _drain(self) -> None:
        while len(self):
            if not self.claims:  # settlements only: let others join for a moment, or a claim
                self._wake.clear()
                try:
                    async with asyncio.timeout(SETTLE_DELAY):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            if await self.flush() < 0:
                await asyncio.sleep(1.0)  # the database is failing: retry, do not spin

    async def aclose(self) -> None:
        """Stop the continuous writer and write what is pending (at shutdown)."""
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
            await asyncio.gather(self._drainer, return_exceptions=True)
        await self.flush()

    def __len__(self) -> int:
        return len(self.tokens) + len(self.users) + len(self.channels) + len(self.logs) + len(self.claims)

    async def flush(self) -> int:
        """Write everything pending; returns how many statements were sent (-1: it failed).

        The write runs shielded: a cancelled caller (the job loop at shutdown) does not cut it
        short, and the next flush waits for it. What fails to write is kept for the next flush.
        """
        async with self._lock:
            if self._inflight is not None and not self._inflight.done():
                await asyncio.shield(self._inflight)
            pending = self._take_pending()
            if not len(pending):
                return 0
            done = await self._write_here_patiently(pending)
            if done:
                return done
            self._writing = pending
            self._inflight = asyncio.ensure_future(self._write(pending))
            return await asyncio.shield(self._inflight)

    async def _write_here_patiently(self, pending: Batch) -> int:
        """``_write_here``, retried on the event loop while another connection (another worker
        process, mostly) holds SQLite's write lock, for at most ``LOCKED_PATIENCE``: its writes
        are short, and the database thread would wait in SQLite's busy handler (sleeps of 1 ms
        and up) and then for the GIL between statements, with every claim queued behind it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCKED_PATIENCE
        self._writing = pending  # counted by unwritten() while it waits
        try:
            while not (done := self._write_here(pending)) and self.db.writes_here:
                if loop.time() >= deadline:
                    break
                await asyncio.sleep(LOCKED_RETRY)
        except asyncio.CancelledError:
            self._merge(pending)
            raise
        finally:
            self._writing = None
        return done

    def _take_pending(self) -> Batch:
        pending = Batch(self.db)
        pending.tokens, self.tokens = self.tokens, pending.tokens
        pending.users, self.users = self.users, pending.users
        pending.channels, self.channels = self.channels, pending.channels
        pending.logs, self.logs = self.logs, pending.logs
        pending.claims, self.claims = self.claims, pending.claims
        return pending

    def _write_here(self, pending: Batch) -> int:
        """The SQLite transaction on the event loop's own connection, if SQLite's write lock is
        free: 1 written, -1 failed (claims fail, the rest is kept), 0 not here (locked, not SQLite)."""
        try:
            outcomes = self.db.sqlite_here(_write_in_one_transaction, pending.tokens, pending.users,
                                           pending.channels, pending.logs, pending.claims)
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                return 0
            self._failed(pending, exc)
            return -1
        except Exception as exc:
            self._failed(pending, exc)
            return -1
        if outcomes is None:
            return 0
        self._written_all(pending, outcomes)
        return 1

    def _written_all(self, pending: Batch, outcomes: list[str]) -> None:
        for token_id, values in pending.tokens.items():
            self._written("tokens", token_id, values[0])
        for user_id, values in pending.users.items():
            self._written("users", user_id, values[0])
        for (*_, future), outcome in zip(pending.claims, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
        pending.tokens, pending.users, pending.channels, pending.logs, pending.claims = {}, {}, {}, [], []

    def _failed(self, pending: Batch, exc: Exception) -> None:
        log.error("batch write failed; %d pending updates are kept for the next write", len(pending), exc_info=exc)
        for *_, future in pending.claims:  # a reservation is not retried later: its request fails now
            if not future.done():
                future.set_exception(exc)
        pending.claims = []
        self._merge(pending)

    async def _write(self, pending: Batch) -> int:
        """The write in the database thread (which waits for SQLite's lock), or, on other
        databases, statement by statement."""
        statements = 0
        db = self.db
        try:
            outcomes = await db.sqlite_in_thread(_write_in_one_transaction, pending.tokens, pending.users,
                                                 pending.channels, pending.logs, pending.claims)
            if outcomes is not None:
                self._written_all(pending, outcomes)
                return 1
            for *_, future in pending.claims:  # not SQLite: the caller reserves with its own statements
                if not future.done():
                    future.set_result(None)
            pending.claims = []
            while pending.tokens:
                token_id, (refund, used, accessed) = next(iter(pending.tokens.items()))
                await db.execute(_SETTLE_TOKEN, [refund, used, accessed, token_id])
                del pending.tokens[token_id]
                self._written("tokens", token_id, refund)
                statements += 1
            while pending.users:
                user_id, (refund, used, requests) = next(iter(pending.users.items()))
                await db.execute(_SETTLE_USER, [refund, used, requests, user_id])
                del pending.users[user_id]
                self._written("users", user_id, refund)
                statements += 1
            while pending.channels:
                channel_id, used = next(iter(pending.channels.items()))
                await db.execute(_CHANNEL_USED, [used, channel_id])
                del pending.channels[channel_id]
                statements += 1
            if pending.logs:
                await db.execute_many(_INSERT_LOG, [[f.get(c) for c in _LOG_COLUMNS] for f in pending.logs])
                pending.logs = []
                statements += 1
        except Exception as exc:
            self._failed(pending, exc)
            return -1
        finally:
            self._writing = None  # written or merged back: no longer counted twice
        return statements

    def _written(self, table: str, row_id: int, quota_delta: int) -> None:
        if self.on_written is not None and quota_delta:
            self.on_written(table, row_id, quota_delta)

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
        self.claims = other.claims + self.claims
