"""In-process helpers for the ledger's unit tests: an in-memory SQLite database with the
gateway's schema, rows to work on, and a stand-in for ``oneapi.db.Database`` that hands the
writer that connection (with faults to inject) instead of the ORM."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oneapi.ledger._program import Hold, Take
from oneapi.ledger._writer import _drive_sync
from oneapi.relay.context import RelayContext, TokenRecord, UserRecord

_template: Path | None = None
_template_lock = threading.Lock()


def _build_template() -> Path:
    """The gateway's schema, created once by its own code (``Database.migrate``) in a
    thread of its own (the ORM keeps global state that the tests' event loop must not see)."""
    from tests.dbs import sqlite_database

    path = Path(tempfile.mkdtemp(prefix="oneapi-unit-")) / "schema.db"
    failure: list[BaseException] = []

    def build() -> None:
        async def run() -> None:
            async with sqlite_database(path):
                pass

        try:
            asyncio.run(run())
        except BaseException as exc:  # pragma: no cover - reported below
            failure.append(exc)

    thread = threading.Thread(target=build)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return path


def memory_db() -> sqlite3.Connection:
    """A new in-memory database holding the gateway's (empty) schema, in autocommit mode as
    ``write_sqlite`` wants it."""
    global _template
    with _template_lock:
        if _template is None:
            _template = _build_template()
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    with sqlite3.connect(_template) as source:
        source.backup(conn)
    return conn


def add_user(conn: sqlite3.Connection, quota: int, group: str = "default") -> int:
    cur = conn.execute(
        'INSERT INTO users (username, password, display_name, role, status, email, github_id, wechat_id, '
        'lark_id, oidc_id, quota, used_quota, request_count, "group", inviter_id) '
        "VALUES (?, 'x', '', 1, 1, '', '', '', '', '', ?, 0, 0, ?, 0)",
        (f"u{time.monotonic_ns()}", quota, group))
    return int(cur.lastrowid or 0)


def add_token(conn: sqlite3.Connection, user_id: int, remain: int, unlimited: bool = False) -> int:
    cur = conn.execute(
        "INSERT INTO tokens (user_id, key, status, name, created_time, accessed_time, expired_time, "
        "remain_quota, unlimited_quota, used_quota) VALUES (?, ?, 1, 't', 0, 0, -1, ?, ?, 0)",
        (user_id, os.urandom(16).hex(), remain, int(unlimited)))
    return int(cur.lastrowid or 0)


def add_channel(conn: sqlite3.Connection) -> int:
    cur = conn.execute(
        'INSERT INTO channels (type, key, status, name, weight, created_time, test_time, response_time, '
        'balance, balance_updated_time, "group", used_quota, priority) '
        "VALUES (1, 'k', 1, 'c', 0, 0, 0, 0, 0, 0, 'default', 0, 0)")
    return int(cur.lastrowid or 0)


def user_row(conn: sqlite3.Connection, user_id: int) -> tuple[int, int, int]:
    """(quota, used_quota, request_count)"""
    return conn.execute("SELECT quota, used_quota, request_count FROM users WHERE id = ?", (user_id,)).fetchone()


def token_row(conn: sqlite3.Connection, token_id: int) -> tuple[int, int]:
    """(remain_quota, used_quota)"""
    return conn.execute("SELECT remain_quota, used_quota FROM tokens WHERE id = ?", (token_id,)).fetchone()


def channel_used(conn: sqlite3.Connection, channel_id: int) -> int:
    return int(conn.execute("SELECT used_quota FROM channels WHERE id = ?", (channel_id,)).fetchone()[0])


def holds(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    """request id -> (token_amount, amount) of every open hold."""
    rows = conn.execute("SELECT request_id, token_amount, amount FROM quota_holds").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def logs(conn: sqlite3.Connection, kind: int | None = None) -> list[dict[str, Any]]:
    conn.row_factory = sqlite3.Row
    try:
        sql = "SELECT * FROM logs" + (" WHERE type = ?" if kind is not None else "") + " ORDER BY id"
        return [dict(r) for r in conn.execute(sql, () if kind is None else (kind,))]
    finally:
        conn.row_factory = None


def failures(conn: sqlite3.Connection) -> list[tuple[str, str, str, str]]:
    """(request_id, kind, payload, reason) of every ledger_failures row."""
    return conn.execute("SELECT request_id, kind, payload, reason FROM ledger_failures ORDER BY id").fetchall()


def run(conn: sqlite3.Connection, ops: list[Any], sqlite: bool = True) -> None:
    """``program(ops)`` in one transaction, always through the statement program (no fast path);
    ``sqlite=False`` takes the PostgreSQL/MySQL branch (SELECT ... FOR UPDATE, minus the lock)."""
    from oneapi.ledger._program import program

    conn.execute("BEGIN IMMEDIATE")
    try:
        _drive_sync(_Unlocked(conn) if not sqlite else conn, program(ops, sqlite))  # type: ignore[arg-type]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class _Unlocked:
    """A connection that runs the other databases' statements on SQLite (no row locks there)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Any) -> sqlite3.Cursor:
        return self.conn.execute(sql.replace(" FOR UPDATE", ""), args)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)


_ids = iter(range(10**9))


def hold(user_id: int, token_id: int, amount: int, limited: bool = True, written: bool | None = False,
         request_id: str | None = None) -> Hold:
    return Hold(request_id or f"req-{next(_ids)}", user_id, token_id, limited, amount, written=written)


def take(h: Hold, checked: bool = True, node: str = "host/node1") -> Take:
    return Take(h, checked=checked, node=node, lease_until=int(time.time()) + 60)


class MemoryDB:
    """What the ledger's writer needs of ``oneapi.db.Database``, on one sqlite3 connection.

    ``faults`` are raised, in order, by the next writes before anything is written (as a
    connection cut at BEGIN, or a full disk, would); ``locked`` next tries on the event loop
    find SQLite's write lock held by another connection."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, writes_here: bool = True) -> None:
        self.conn = conn
        self.writes_here = writes_here
        self.writes = 0  # transactions tried
        self.in_thread = 0  # of which in the database thread
        self.faults: list[BaseException] = []
        self.locked = 0
        self.trouble: list[BaseException] = []

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        self.writes += 1
        if self.faults:
            raise self.faults.pop(0)
        return fn(self.conn, *args)

    def sqlite_here(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.writes_here:
            return None
        if self.locked:
            self.locked -= 1
            raise sqlite3.OperationalError("database is locked")
        return self._run(fn, args)

    async def sqlite_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.writes_here:
            return None
        self.in_thread += 1
        return self._run(fn, args)

    def disk_trouble(self, exc: BaseException) -> None:
        self.trouble.append(exc)

    def sql(self, text: str) -> str:
        return text

    async def fetch(self, text: str, values: list[Any] | None = None) -> list[dict[str, Any]]:
        self.conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in self.conn.execute(text, values or [])]
        finally:
            self.conn.row_factory = None


class AsyncConn:
    """The ORM connection interface ``write_async`` drives, over a sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def execute_query(self, sql: str, args: list[Any]) -> tuple[int, list[Any]]:
        cur = self.conn.execute(sql, args)
        return cur.rowcount, cur.fetchall()

    async def execute_query_dict(self, sql: str, args: list[Any]) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, args)
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    async def execute_many(self, sql: str, rows: list[Any]) -> None:
        self.conn.executemany(sql, rows)


def context(user_id: int, token_id: int, unlimited: bool = False, request_id: str | None = None) -> RelayContext:
    token = TokenRecord(token_id, user_id, "k", "t", 1, -1, 0, unlimited, None, ())
    user = UserRecord(user_id, "u", 1, 1, "default", 0)
    return RelayContext(request_id=request_id or f"req-{next(_ids)}", mode="chat", endpoint="/chat/completions",
                        token=token, user=user, model="m", body=b"", content_type="application/json")
