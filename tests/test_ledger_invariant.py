"""The ledger checker on SQLite, PostgreSQL and MariaDB: a consistent ledger passes, and a
missing log, an extra deduction, a forgotten hold and a duplicated request id are reported."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dbs import mariadb_database, postgres_database
from tests.ledger_invariant import (
    Db,
    check,
    duplicate_log_request_ids,
    holds,
    snapshot,
    wait_until_quiet,
)

_LOG_ID = {"sqlite": "INTEGER PRIMARY KEY", "postgres": "SERIAL PRIMARY KEY",
           "mariadb": "INTEGER AUTO_INCREMENT PRIMARY KEY"}


def _schema(dialect: str) -> list[str]:
    """Just the columns the checker reads, as in One API plus ``logs.token_id`` and holds."""
    return [
        "CREATE TABLE users (id INTEGER PRIMARY KEY, quota BIGINT NOT NULL, "
        "used_quota BIGINT NOT NULL, request_count INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE tokens (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, "
        "remain_quota BIGINT NOT NULL, unlimited_quota BOOLEAN NOT NULL, "
        "used_quota BIGINT NOT NULL)",
        f"CREATE TABLE logs (id {_LOG_ID[dialect]}, user_id INTEGER NOT NULL, token_id INTEGER, "
        "type INTEGER NOT NULL, quota BIGINT NOT NULL, request_id VARCHAR(64) NOT NULL DEFAULT '')",
        "CREATE TABLE quota_holds (request_id VARCHAR(64) PRIMARY KEY, user_id INTEGER NOT NULL, "
        "token_id INTEGER NOT NULL, token_amount BIGINT NOT NULL, amount BIGINT NOT NULL, "
        "node VARCHAR(128) NOT NULL, lease_until BIGINT NOT NULL, created_at BIGINT NOT NULL)",
    ]


async def _pg_exec(dsn: str, statements: tuple[str, ...]) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for sql in statements:
                await conn.execute(sql)
    finally:
        await conn.close()


async def _mysql_exec(database: str, statements: tuple[str, ...]) -> None:
    import asyncmy

    conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="",
                                 db=database)
    try:
        async with conn.cursor() as cur:
            for sql in statements:
                await cur.execute(sql)
        await conn.commit()
    finally:
        conn.close()


@dataclass
class Ledger:
    """A test database and a way to run SQL on it (in one transaction per call)."""

    db: Db
    exec: Callable[..., None]

    def log(self, user: int, token: int | None, quota: int, request_id: str = "",
            type_: int = 2) -> None:
        token_sql = "NULL" if token is None else str(token)
        self.exec(f"INSERT INTO logs (user_id, token_id, type, quota, request_id) VALUES "
                  f"({user}, {token_sql}, {type_}, {quota}, '{request_id}')")

    def charge(self, user: int, token: int, quota: int, request_id: str, *,
               limited: bool = True, log: bool = True) -> None:
        """What the gateway does for a settled request: deduct, count, log."""
        remain = f"remain_quota = remain_quota - {quota}, " if limited else ""
        self.exec(f"UPDATE tokens SET {remain}used_quota = used_quota + {quota} WHERE id = {token}",
                  f"UPDATE users SET quota = quota - {quota}, used_quota = used_quota + {quota} "
                  f"WHERE id = {user}")
        if log:
            self.log(user, token, quota, request_id)

    def hold(self, user: int, token: int, amount: int, request_id: str, *,
             record: bool = True) -> None:
        """Take ``amount`` from a limited token and its user for an unfinished request."""
        self.exec(f"UPDATE tokens SET remain_quota = remain_quota - {amount} WHERE id = {token}",
                  f"UPDATE users SET quota = quota - {amount} WHERE id = {user}")
        if record:
            self.exec("INSERT INTO quota_holds VALUES "
                      f"('{request_id}', {user}, {token}, {amount}, {amount}, 'n1', 0, 0)")

    def settle(self, user: int, token: int, request_id: str, actual: int) -> None:
        """Replace a hold by the actual charge: refund the difference, count, log."""
        row = next(h for h in holds(self.db) if h["request_id"] == request_id)
        back = int(row["amount"]) - actual
        self.exec(f"DELETE FROM quota_holds WHERE request_id = '{request_id}'",
                  f"UPDATE tokens SET remain_quota = remain_quota + {back}, "
                  f"used_quota = used_quota + {actual} WHERE id = {token}",
                  f"UPDATE users SET quota = quota + {back}, used_quota = used_quota + {actual} "
                  f"WHERE id = {user}")
        self.log(user, token, actual, request_id)


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """An empty ledger: users 1 and 2; tokens 10 (limited) and 11 (unlimited) of user 1,
    token 20 of user 2; a few logs from before, and hold h0 open on token 20."""
    dialect: str = request.param
    if dialect == "sqlite":
        path = tmp_path / "ledger.db"

        def exec_sqlite(*statements: str) -> None:
            with sqlite3.connect(path) as conn:
                for sql in statements:
                    conn.execute(sql)

        yield _seeded(Ledger(path, exec_sqlite), dialect)
    elif dialect == "postgres":
        with postgres_database() as dsn:
            yield _seeded(Ledger(dsn, lambda *s: asyncio.run(_pg_exec(dsn, s))), dialect)
    else:
        with mariadb_database() as dsn:
            name = dsn.split("/", 1)[1].split("?", 1)[0]
            yield _seeded(Ledger(dsn, lambda *s: asyncio.run(_mysql_exec(name, s))), dialect)


def _seeded(ledger: Ledger, dialect: str) -> Ledger:
    ledger.exec(*_schema(dialect),
                "INSERT INTO users (id, quota, used_quota) VALUES (1, 1000, 0), (2, 500, 0)",
                "INSERT INTO tokens VALUES (10, 1, 400, FALSE, 0), (11, 1, 0, TRUE, 0), "
                "(20, 2, 300, FALSE, 0)")
    ledger.charge(1, 10, 5, "")  # before the snapshot: not counted
    ledger.charge(1, 10, 7, "")  # a second empty request id: not a duplicate
    ledger.hold(2, 20, 60, "h0")
    return ledger


def _busy_consistent(ledger: Ledger) -> None:
    """Traffic after the snapshot that keeps the ledger balanced."""
    ledger.charge(1, 10, 30, "r1")
    ledger.charge(1, 11, 50, "r2", limited=False)  # unlimited token: only used_quota moves
    ledger.hold(2, 20, 40, "r3")  # still open
    ledger.charge(1, 10, 20, "r4")
    ledger.charge(1, 10, -20, "r4-refund")  # a refund: a negative consume row
    ledger.settle(2, 20, "h0", 45)  # open at the snapshot, settled after it
    ledger.log(1, None, 999, "topup", type_=1)  # not a consume row: ignored


def test_consistent_ledger_passes(ledger: Ledger) -> None:
    before = snapshot(ledger.db)
    assert before.token_held == {20: 60} and before.user_held == {2: 60}
    assert check(ledger.db, before) == []
    _busy_consistent(ledger)
    assert check(ledger.db, before) == []
    assert check(ledger.db, before, token_ids=[11], user_ids=[]) == []
    assert duplicate_log_request_ids(ledger.db) == []
    assert [h["request_id"] for h in holds(ledger.db)] == ["r3"]


def test_missing_log_is_reported(ledger: Ledger) -> None:
    before = snapshot(ledger.db)
    _busy_consistent(ledger)
    ledger.charge(1, 10, 33, "lost", log=False)
    problems = check(ledger.db, before)
    assert problems == [
        "token 10: used_quota rose by 63, consume logs say 30",
        "token 10: remain_quota fell by 63, expected 30 (consume logs 30 + open holds 0"
        " - holds open at the snapshot 0)",
        "user 1: used_quota rose by 113, consume logs say 80",
        "user 1: quota fell by 113, expected 80 (consume logs 80 + open holds 0"
        " - holds open at the snapshot 0)",
    ]
    assert check(ledger.db, before, token_ids=[20], user_ids=[2]) == []


def test_extra_deduction_is_reported(ledger: Ledger) -> None:
    before = snapshot(ledger.db)
    _busy_consistent(ledger)
    ledger.exec("UPDATE tokens SET remain_quota = remain_quota - 7 WHERE id = 20")
    assert check(ledger.db, before) == [
        "token 20: remain_quota fell by 32, expected 25 (consume logs 45 + open holds 40"
        " - holds open at the snapshot 60)"]


def test_forgotten_hold_is_reported(ledger: Ledger) -> None:
    before = snapshot(ledger.db)
    _busy_consistent(ledger)
    ledger.hold(2, 20, 15, "unrecorded", record=False)  # taken, but no hold row says so
    problems = check(ledger.db, before)
    assert [p.split(":")[0] for p in problems] == ["token 20", "user 2"]
    assert "fell by 40, expected 25" in problems[0]


def test_hold_left_open_is_reported(ledger: Ledger) -> None:
    before = snapshot(ledger.db)
    _busy_consistent(ledger)
    assert check(ledger.db, before) == []  # balanced, but r3 never finishes
    left = wait_until_quiet(ledger.db, timeout=0.3, interval=0.05)
    assert [(h["request_id"], int(h["token_amount"]), int(h["amount"])) for h in left] == [
        ("r3", 40, 40)]
    ledger.settle(2, 20, "r3", 40)
    assert wait_until_quiet(ledger.db, timeout=1) == []
    assert check(ledger.db, before) == []


def test_duplicated_request_id_is_reported(ledger: Ledger) -> None:
    ledger.charge(1, 10, 1, "old")
    ledger.charge(1, 10, 1, "old")
    before = snapshot(ledger.db)
    _busy_consistent(ledger)
    ledger.charge(1, 10, 30, "r1")  # charged twice for one request: balanced, but wrong
    assert check(ledger.db, before) == []
    assert duplicate_log_request_ids(ledger.db) == ["old", "r1"]
    assert duplicate_log_request_ids(ledger.db, since=before) == ["r1"]


def test_unknown_and_vanished_ids_are_reported(ledger: Ledger) -> None:
    before = snapshot(ledger.db)
    ledger.exec("DELETE FROM tokens WHERE id = 11")
    assert check(ledger.db, before, token_ids=[11, 99], user_ids=[7]) == [
        "token 11: gone", "token 99: not in the snapshot", "user 7: not in the snapshot"]


def test_missing_sqlite_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):  # no empty database is created in passing
        snapshot(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()


async def test_usable_from_a_running_loop(ledger: Ledger) -> None:
    before = snapshot(str(ledger.db))
    assert check(ledger.db, before) == []
