"""The ledger in-process, on SQLite, PostgreSQL and MariaDB: a hold is written with its
reservation, a settlement or release counts once however often it is replayed, a cancelled
reservation leaves nothing behind, a row that cannot be written does not block the others,
and the reconciler returns what dead nodes left."""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from oneapi import models
from oneapi.ledger import Ledger, Node, Writer, reconcile
from oneapi.ledger._program import Hold, Release, Settle
from oneapi.ledger._writer import write_async
from oneapi.relay.context import RelayContext, RelayError, TokenRecord, UserRecord
from tests.dbs import mariadb_database, postgres_database
from tests.ledger_invariant import check, duplicate_log_request_ids, holds, snapshot

pytestmark = pytest.mark.timeout(120)

DIALECTS = ["sqlite", "postgres", "mariadb"]


@pytest.fixture(params=DIALECTS)
def address(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each kind: an SQLite path or an SQL_DSN."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    with (postgres_database if request.param == "postgres" else mariadb_database)() as dsn:
        yield dsn


@asynccontextmanager
async def ledger_on(address: str, tmp_path: Path) -> AsyncIterator[Ledger]:
    """A Ledger on the database at ``address``, schema created."""
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    from oneapi.db import Database
    from oneapi.settings import Settings

    EXECUTOR_CACHE.clear()  # keyed by connection name, not dialect: the last test's SQL would be reused
    where = {"SQLITE_PATH": address} if address.endswith(".db") else {"SQL_DSN": address}
    db = Database(Settings(**where))
    await db.connect()
    try:
        await db.migrate()
        yield Ledger(db, Writer(db), node=Node(str(tmp_path)))
    finally:
        await db.close()
        EXECUTOR_CACHE.clear()  # the next test's database may be of another kind


async def accounts(quota: int, remain: int) -> tuple[models.User, models.Token]:
    user = await models.User.create(username=f"u{time.monotonic_ns()}", password="x", quota=quota)
    token = await models.Token.create(user_id=user.id, key=os.urandom(16).hex(), name="t",
                                      remain_quota=remain, created_time=0)
    return user, token


_n = iter(range(10**9))


def context(user: models.User, token: models.Token, unlimited: bool = False) -> RelayContext:
    record = TokenRecord(token.id, user.id, token.key, token.name, 1, -1, token.remain_quota, unlimited,
                         None, ())
    who = UserRecord(user.id, user.username, 1, 1, "default", user.quota)
    return RelayContext(request_id=f"req-{next(_n)}", mode="chat", endpoint="/chat/completions", token=record,
                        user=who, model="m", body=b"", content_type="application/json")


async def balances(user: models.User, token: models.Token) -> tuple[int, int, int, int]:
    u = await models.User.get(id=user.id)
    t = await models.Token.get(id=token.id)
    return u.quota, u.used_quota, t.remain_quota, t.used_quota


async def test_a_hold_is_written_with_its_reservation_and_an_overage_is_charged(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10_000, 1_000)
        before = snapshot(address)
        hold = await ledger.reserve(context(user, token), 600)
        assert [h["amount"] for h in holds(address)] == [600]
        assert check(address, before) == []  # the hold counts until it is settled
        ledger.settle(hold, 7_501, 0, {"model_name": "m"})  # far more than held: charged in full
        assert await ledger.writer.flush()
        assert holds(address) == []
        assert await balances(user, token) == (10_000 - 7_501, 7_501, 1_000 - 7_501, 7_501)
        assert check(address, before) == []
        with pytest.raises(RelayError) as refused:  # the next request is refused
            await ledger.reserve(context(user, token), 1)
        assert refused.value.code == "insufficient_token_quota"


async def test_a_replayed_settlement_or_release_changes_nothing(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10_000, 5_000)
        before = snapshot(address)
        settled = await ledger.reserve(context(user, token), 300)
        released = await ledger.reserve(context(user, token), 200)
        ledger.settle(settled, 250, 0, {})
        ledger.release(released)
        assert await ledger.writer.flush()
        after = await balances(user, token)
        # The same writes again, as after a reply lost on the way back (the commit happened).
        again = [Settle(Hold(settled.request_id, user.id, token.id, True, 300, written=True), 250, 0, {},
                        maybe_done=True),
                 Release(Hold(released.request_id, user.id, token.id, True, 200, written=True), maybe_done=True)]
        await write_async(ledger.db, again)
        ledger.settle(settled, 250, 0, {})  # and twice through the ledger itself
        assert await ledger.writer.flush()
        assert await balances(user, token) == after == (10_000 - 250, 250, 5_000 - 250, 250)
        assert check(address, before) == [] and duplicate_log_request_ids(address) == []


async def test_a_settlement_after_the_reconciler_released_its_hold_charges_in_full(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10_000, 5_000)
        before = snapshot(address)
        hold = await ledger.reserve(context(user, token), 300)
        await write_async(ledger.db, [Release(Hold(hold.request_id, user.id, token.id, True, 300, written=True))])
        ledger.settle(hold, 120, 0, {})  # the node was slow, not dead
        assert await ledger.writer.flush()
        assert await balances(user, token) == (10_000 - 120, 120, 5_000 - 120, 120)
        assert check(address, before) == []


async def test_a_release_and_a_settlement_of_one_hold_in_one_write_count_it_once(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10_000, 5_000)
        before = snapshot(address)
        for first_release in (True, False):
            hold = await ledger.reserve(context(user, token), 300)
            release = Release(Hold(hold.request_id, user.id, token.id, True, 300, written=True), note="reconciler")
            if first_release:
                ledger.writer.submit(release)
            ledger.settle(hold, 120, 0, {})
            if not first_release:
                ledger.writer.submit(release)
            assert await ledger.writer.flush()
        assert await balances(user, token) == (10_000 - 240, 240, 5_000 - 240, 240)
        assert holds(address) == [] and check(address, before) == []


async def test_a_cancelled_reservation_leaves_nothing_behind(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10**9, 10**9)
        before = snapshot(address)
        outcomes = {"cancelled": 0, "held": 0}
        # Cut the reservation short after each number of loop turns, then after growing waits
        # (a round trip to PostgreSQL or MariaDB takes many turns).
        for steps in range(60):
            task = asyncio.ensure_future(ledger.reserve(context(user, token), 100))
            for _ in range(min(steps, 30)):
                await asyncio.sleep(0)
            if steps > 30:
                await asyncio.sleep((steps - 30) * 0.0003)
            task.cancel()
            try:
                hold = await task
            except asyncio.CancelledError:
                outcomes["cancelled"] += 1
            else:
                outcomes["held"] += 1
                ledger.settle(hold, 100, 0, {})
            deadline = time.monotonic() + 10
            while True:  # a take written after its waiter left is released next
                assert await ledger.writer.flush()
                if holds(address) == [] and ledger.open == {}:
                    break
                assert time.monotonic() < deadline, (holds(address), ledger.open)
                await asyncio.sleep(0.005)
            assert check(address, before) == []
        assert outcomes["cancelled"] > 0 and outcomes["held"] > 0


async def test_a_flush_cancelled_midway_is_written_once(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10**9, 10**9)
        before = snapshot(address)
        for steps in range(12):
            hold = await ledger.reserve(context(user, token), 50)
            ledger.settle(hold, 40, 0, {})
            flush = asyncio.ensure_future(ledger.writer.flush())
            for _ in range(steps):
                await asyncio.sleep(0)
            flush.cancel()
            await asyncio.gather(flush, return_exceptions=True)
            assert await ledger.writer.flush()
        assert holds(address) == [] and check(address, before) == []
        assert (await balances(user, token))[1] == 12 * 40


async def test_a_row_that_cannot_be_written_does_not_block_the_others(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10_000, 10_000)
        before = snapshot(address)
        good = [await ledger.reserve(context(user, token), 100) for _ in range(5)]
        poisoned = await ledger.reserve(context(user, token), 100)
        for hold in good[:3]:
            ledger.settle(hold, 80, 0, {})
        ledger.settle(poisoned, 80, 0, {"username": None})  # breaks logs.username NOT NULL
        for hold in good[3:]:
            ledger.settle(hold, 80, 0, {})
        assert await ledger.writer.flush()
        assert ledger.writer.failures == 1 and len(ledger.writer) == 0
        failures = await models.LedgerFailure.all()
        assert [f.request_id for f in failures] == [poisoned.request_id] and "settle" == failures[0].kind
        # The five others are charged; the poisoned one's hold went back (recorded for the operator).
        assert await balances(user, token) == (10_000 - 5 * 80, 5 * 80, 10_000 - 5 * 80, 5 * 80)
        assert holds(address) == [] and check(address, before) == []


async def test_the_reconciler_returns_holds_of_dead_nodes_only(address, tmp_path) -> None:
    async with ledger_on(address, tmp_path) as ledger:
        user, token = await accounts(10_000, 10_000)
        before = snapshot(address)
        host = socket.gethostname()
        dead, alive = f"{host}/deadbeef00000001", f"{host}/a11ve00000000002"
        for node_id in (dead, alive):  # lock files as their processes left them
            handle = open(os.path.join(str(tmp_path), f"oneapi-node-{node_id.rsplit('/', 1)[1]}.lock"), "w")
            if node_id == alive:
                fcntl.flock(handle, fcntl.LOCK_EX)
                kept_open = handle
            else:
                handle.close()
        far = int(time.time()) + 3600
        rows = [("r-dead", dead, far), ("r-alive", alive, far), ("r-expired", "elsewhere/0001", 0),
                ("r-elsewhere", "elsewhere/0002", far)]
        for request_id, node, lease in rows:
            await _hold_row(ledger, request_id, user, token, 100, node, lease)
        assert check(address, before) == []
        assert await reconcile(ledger) == 2
        assert sorted(h["request_id"] for h in holds(address)) == ["r-alive", "r-elsewhere"]
        assert (await balances(user, token))[0] == 10_000 - 200
        notes = await models.Log.filter(type=models.LOG_SYSTEM).values_list("request_id", flat=True)
        assert sorted(notes) == ["r-dead", "r-expired"]
        assert check(address, before) == []
        kept_open.close()


async def _hold_row(ledger: Ledger, request_id: str, user: models.User, token: models.Token, amount: int,
                    node: str, lease_until: int) -> None:
    """A hold as another node wrote it: balances taken and the row, in one transaction."""
    from oneapi.ledger._program import Take

    hold = Hold(request_id, user.id, token.id, True, amount)
    await write_async(ledger.db, [Take(hold, checked=True, node=node, lease_until=lease_until)])


async def test_a_nodes_lock_file_tells_whether_it_lives(tmp_path) -> None:
    me, other = Node(str(tmp_path)), Node(str(tmp_path))
    me.start()
    other.start()
    assert not me.dead(other.id) and not me.dead(me.id)
    other.stop(holds_left=True)  # as after a crash: the file stays, its lock is gone
    assert me.dead(other.id)
    assert not me.dead("another-host/0123")  # elsewhere: only its leases tell
    me.stop(holds_left=False)
    assert not os.listdir(tmp_path)


async def test_a_reservation_queued_behind_sqlites_lock_and_cancelled_is_never_written(tmp_path, monkeypatch) -> None:
    import sqlite3

    path = str(tmp_path / "queued.db")
    async with ledger_on(path, tmp_path) as ledger:
        user, token = await accounts(1_000, 1_000)
        in_thread, handed, back = ledger.db.sqlite_in_thread, asyncio.Event(), asyncio.Event()

        async def watched_hop(*args: object) -> object:
            handed.set()
            try:
                return await in_thread(*args)  # type: ignore[arg-type]
            finally:
                back.set()

        monkeypatch.setattr(ledger.db, "sqlite_in_thread", watched_hop)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writes: the take has to wait
        waiting = asyncio.ensure_future(ledger.reserve(context(user, token), 300))
        await asyncio.wait_for(handed.wait(), 10)  # queued: waiting for the lock in the database thread
        assert not waiting.done()
        waiting.cancel()  # the client left while its reservation waited
        await asyncio.gather(waiting, return_exceptions=True)
        other.execute("ROLLBACK")
        other.close()
        await asyncio.wait_for(back.wait(), 10)  # the take was written after its waiter left,
        deadline = time.monotonic() + 10  # ... so its release is queued and written next
        while holds(path):
            assert await ledger.writer.flush() and time.monotonic() < deadline, holds(path)
            await asyncio.sleep(0.005)
        assert await balances(user, token) == (1_000, 0, 1_000, 0)
        assert holds(path) == []


def test_database_trouble_is_told_from_a_bug() -> None:
    import sqlite3

    import asyncmy.errors
    import asyncpg
    from tortoise.exceptions import OperationalError

    from oneapi.db import database_unavailable

    def caused(outer: Exception, cause: BaseException) -> Exception:
        outer.__cause__ = cause
        return outer

    down = [caused(OperationalError("x"), asyncpg.exceptions.ConnectionDoesNotExistError("closed")),
            caused(OperationalError("x"), ConnectionResetError()), sqlite3.OperationalError("database or disk is full"),
            sqlite3.OperationalError("database is locked"),
            caused(OperationalError("x"), asyncmy.errors.OperationalError(2013, "Lost connection to server"))]
    bugs = [ValueError("x"), sqlite3.OperationalError("no such column: nope"), KeyError("k"),
            caused(OperationalError("x"), asyncpg.exceptions.UndefinedColumnError("no column"))]
    assert [database_unavailable(e) for e in down] == [True] * len(down)
    assert [database_unavailable(e) for e in bugs] == [False] * len(bugs)


def test_an_administrator_sees_refused_writes_and_open_holds(gateway, root, admin) -> None:
    import sqlite3

    from tests.gateway import api

    with sqlite3.connect(gateway.dir / "one-api.db", timeout=30) as conn:
        conn.execute("INSERT INTO ledger_failures (request_id, kind, payload, reason, created_at) "
                     "VALUES ('req-poisoned', 'settle', '{}', 'IntegrityError: NOT NULL', 1)")
        conn.execute("INSERT INTO quota_holds (request_id, user_id, token_id, token_amount, amount, node, "
                     "lease_until, created_at) VALUES ('req-held', 1, 0, 0, 5, 'elsewhere/1', 4102444800, 1)")
    try:
        failures = api(root, "GET", "/api/log/ledger_failures")
        assert [(f["request_id"], f["reason"]) for f in failures][:1] == [("req-poisoned", "IntegrityError: NOT NULL")]
        assert "req-held" in [h["request_id"] for h in api(root, "GET", "/api/log/holds")]
        user = admin.user()
        plain = gateway.login(user["username"], "password123")
        assert plain.get("/api/log/holds").json()["success"] is False  # administrators only
        plain.close()
    finally:
        with sqlite3.connect(gateway.dir / "one-api.db", timeout=30) as conn:
            conn.execute("DELETE FROM quota_holds WHERE request_id = 'req-held'")
