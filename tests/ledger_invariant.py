"""The money invariant of a gateway database, read directly (not through the gateway).

``db`` is what tests give the gateway: a SQLite file (``str`` or ``Path``), a
``postgres://user@127.0.0.1:5432/db`` URL, or a MySQL DSN in One API's form
(``root:@tcp(127.0.0.1:3306)/db?...``) or as ``mysql://user:pass@host:port/db``::

    before = snapshot(db)
    ...  # requests through the gateway
    assert wait_until_quiet(db, 10) == []
    assert check(db, before) == []
    assert duplicate_log_request_ids(db, since=before) == []

The invariant, for what happened after the snapshot, with ``logs`` the consume-log quota
(type 2 rows, refunds negative) and ``held`` the open ``quota_holds`` (now, minus those open
at the snapshot):

- limited token T: remain_quota fell by logs(T) + held.token_amount(T); used_quota rose by logs(T)
- unlimited token T: used_quota rose by logs(T)
- user U: quota fell by logs(U) + held.amount(U); used_quota rose by logs(U)

It assumes nothing else moves quota meanwhile (top-ups, redemptions, admin edits), and that
the snapshot is taken while no request is being written to the logs.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import time
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

T = TypeVar("T")
Db = str | os.PathLike[str]
Row = dict[str, Any]
CONSUME = 2  # logs.type of a consumption (or, with negative quota, a refund)

_GO_MYSQL = re.compile(r"^(?P<user>[^:@]*)(?::(?P<password>[^@]*))?"
                       r"@tcp\((?P<host>[^):]*)(?::(?P<port>\d+))?\)/(?P<db>[^?]*)")
_TOKENS = "SELECT id, remain_quota, used_quota, unlimited_quota FROM tokens"
_USERS = "SELECT id, quota, used_quota FROM users"
_MAX_LOG_ID = "SELECT COALESCE(MAX(id), 0) AS max_id FROM logs"
_HOLDS = "SELECT * FROM quota_holds ORDER BY created_at, request_id"


@dataclass(frozen=True)
class TokenState:
    remain_quota: int
    used_quota: int
    unlimited: bool


@dataclass(frozen=True)
class UserState:
    quota: int
    used_quota: int


@dataclass(frozen=True)
class Snapshot:
    """Balances at one moment, the last log id then, and the holds open then (summed)."""

    tokens: dict[int, TokenState]
    users: dict[int, UserState]
    max_log_id: int
    token_held: dict[int, int]  # Σ quota_holds.token_amount per token
    user_held: dict[int, int]  # Σ quota_holds.amount per user


def snapshot(db: Db) -> Snapshot:
    """The balances of every token and user, read in one transaction."""
    tokens, users, max_id, open_holds = _read(db, _TOKENS, _USERS, _MAX_LOG_ID, _HOLDS)
    return Snapshot(_tokens(tokens), _users(users), int(max_id[0]["max_id"]),
                    _held(open_holds, "token_id", "token_amount"),
                    _held(open_holds, "user_id", "amount"))


def check(db: Db, before: Snapshot, *, token_ids: Iterable[int] | None = None,
          user_ids: Iterable[int] | None = None) -> list[str]:
    """Violations of the invariant since ``before``, one sentence each; empty if it holds.

    Checks the given ids, by default every token and user in ``before``; an id missing from
    ``before`` or from the database now is a violation.
    """
    tokens, users, open_holds, by_token, by_user = _read(
        db, _TOKENS, _USERS, _HOLDS, _consumed("token_id", before.max_log_id),
        _consumed("user_id", before.max_log_id))
    now_tokens, now_users = _tokens(tokens), _users(users)
    token_logs, user_logs = _sums(by_token), _sums(by_user)
    token_held = _held(open_holds, "token_id", "token_amount")
    user_held = _held(open_holds, "user_id", "amount")
    problems: list[str] = []
    for tid in sorted(before.tokens if token_ids is None else set(token_ids)):
        was, now = before.tokens.get(tid), now_tokens.get(tid)
        if was is None or now is None:
            problems.append(f"token {tid}: {'not in the snapshot' if was is None else 'gone'}")
            continue
        logs = token_logs.get(tid, 0)
        if now.used_quota - was.used_quota != logs:
            problems.append(f"token {tid}: used_quota rose by {now.used_quota - was.used_quota}"
                            f", consume logs say {logs}")
        if not (was.unlimited or now.unlimited):
            problems += _balance(f"token {tid}: remain_quota", was.remain_quota - now.remain_quota,
                                 logs, token_held.get(tid, 0), before.token_held.get(tid, 0))
    for uid in sorted(before.users if user_ids is None else set(user_ids)):
        was_u, now_u = before.users.get(uid), now_users.get(uid)
        if was_u is None or now_u is None:
            problems.append(f"user {uid}: {'not in the snapshot' if was_u is None else 'gone'}")
            continue
        logs = user_logs.get(uid, 0)
        if now_u.used_quota - was_u.used_quota != logs:
            problems.append(f"user {uid}: used_quota rose by {now_u.used_quota - was_u.used_quota}"
                            f", consume logs say {logs}")
        problems += _balance(f"user {uid}: quota", was_u.quota - now_u.quota, logs,
                             user_held.get(uid, 0), before.user_held.get(uid, 0))
    return problems


def holds(db: Db) -> list[Row]:
    """The open quota holds, oldest first, as column -> value."""
    return _read(db, _HOLDS)[0]


def duplicate_log_request_ids(db: Db, *, since: Snapshot | None = None) -> list[str]:
    """Non-empty request ids of more than one consume log row (after ``since``, if given)."""
    after = since.max_log_id if since is not None else 0
    rows = _read(db, f"SELECT request_id FROM logs WHERE type = {CONSUME} AND id > {after} "
                     "AND request_id <> '' GROUP BY request_id HAVING COUNT(*) > 1 "
                     "ORDER BY request_id")[0]
    return [row["request_id"] for row in rows]


def wait_until_quiet(db: Db, timeout: float = 10.0, interval: float = 0.1) -> list[Row]:
    """Wait until no hold is open; return the holds still open at ``timeout`` (else [])."""
    deadline = time.monotonic() + timeout
    while (left := holds(db)) and time.monotonic() < deadline:
        time.sleep(interval)
    return left


# ----- arithmetic ------------------------------------------------------------------------
def _balance(what: str, fell: int, logs: int, held: int, held_before: int) -> list[str]:
    expected = logs + held - held_before
    if fell == expected:
        return []
    return [f"{what} fell by {fell}, expected {expected} (consume logs {logs} + open holds "
            f"{held} - holds open at the snapshot {held_before})"]


def _consumed(column: str, after: int) -> str:
    return (f"SELECT {column} AS id, COALESCE(SUM(quota), 0) AS total FROM logs "
            f"WHERE type = {CONSUME} AND id > {int(after)} GROUP BY {column}")


def _tokens(rows: list[Row]) -> dict[int, TokenState]:
    return {int(r["id"]): TokenState(int(r["remain_quota"]), int(r["used_quota"]),
                                     bool(r["unlimited_quota"])) for r in rows}


def _users(rows: list[Row]) -> dict[int, UserState]:
    return {int(r["id"]): UserState(int(r["quota"]), int(r["used_quota"])) for r in rows}


def _sums(rows: list[Row]) -> dict[int, int]:
    return {int(r["id"]): int(r["total"]) for r in rows if r["id"] is not None}


def _held(rows: list[Row], key: str, amount: str) -> dict[int, int]:
    held: dict[int, int] = {}
    for row in rows:
        held[int(row[key])] = held.get(int(row[key]), 0) + int(row[amount])
    return held


# ----- reading ---------------------------------------------------------------------------
def _read(db: Db, *queries: str) -> list[list[Row]]:
    """Each query's rows, all read in one read-only transaction (one consistent view)."""
    if isinstance(db, os.PathLike):
        return _read_sqlite(Path(db), queries)
    if db.startswith(("postgres://", "postgresql://")):
        return _run(_read_postgres(db, queries))
    if (match := _GO_MYSQL.match(db)) is not None:
        return _run(_read_mysql(match["host"] or "127.0.0.1", int(match["port"] or 3306),
                                match["user"], match["password"] or "", match["db"], queries))
    if db.startswith("mysql://"):
        url = urlsplit(db)
        return _run(_read_mysql(url.hostname or "127.0.0.1", url.port or 3306,
                                unquote(url.username or ""), unquote(url.password or ""),
                                url.path.lstrip("/"), queries))
    return _read_sqlite(Path(db), queries)


def _read_sqlite(path: Path, queries: tuple[str, ...]) -> list[list[Row]]:
    if not path.is_file():  # sqlite3 would create an empty database
        raise FileNotFoundError(path)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10,
                           isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("BEGIN")
        return [[dict(row) for row in conn.execute(query)] for query in queries]
    finally:
        conn.close()


async def _read_postgres(dsn: str, queries: tuple[str, ...]) -> list[list[Row]]:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return [[dict(row) for row in await conn.fetch(query)] for query in queries]
    finally:
        await conn.close()


async def _read_mysql(host: str, port: int, user: str, password: str, database: str,
                      queries: tuple[str, ...]) -> list[list[Row]]:
    import asyncmy
    from asyncmy.cursors import DictCursor

    conn = await asyncmy.connect(host=host, port=port, user=user, password=password,
                                 db=database, connect_timeout=10)
    try:
        async with conn.cursor(DictCursor) as cur:
            await cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            await cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            results = []
            for query in queries:
                await cur.execute(query)
                results.append(list(await cur.fetchall()))
            await cur.execute("ROLLBACK")
            return results
    finally:
        conn.close()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also when called from a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:  # the caller's loop cannot be re-entered
        return pool.submit(asyncio.run, coro).result()
