"""Default settings on SQLite: settlements ride along with the next reservation's write (or
share a write of their own), and every reservation keeps its own exact outcome."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from oneapi import models
from oneapi.db import write_transaction
from oneapi.ledger import Writer
from oneapi.ledger._program import Hold, Take
from tests.conftest import gateway_env
from tests.dbs import sqlite_database
from tests.gateway import GatewayProcess
from tests.test_batching import overlapping_load, rows, setup, statements
from tests.test_scaleout import PER_REQUEST, chat

pytestmark = pytest.mark.timeout(180)

_ids = iter(range(10**9))


def claim(writer: Writer, token_id: int | None, user_id: int, amount: int) -> asyncio.Future[str]:
    """A checked take of ``amount`` from the token (None: unlimited) and the user."""
    hold = Hold(f"gc-{next(_ids)}", user_id, token_id or 0, token_id is not None, amount)
    return writer.take_now(Take(hold, checked=True, node="test/node", lease_until=2**40))


async def test_a_claim_briefly_locked_out_is_retried_on_the_loop(tmp_path, monkeypatch) -> None:
    async with sqlite_database(tmp_path / "brief.db") as db:
        user = await models.User.create(username="brief", password="x", quota=1000)
        batch = Writer(db, continuous=True)
        hops: list[object] = []
        in_thread = db.sqlite_in_thread

        async def counted_hop(*args: object) -> object:
            hops.append(args[0])
            return await in_thread(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(db, "sqlite_in_thread", counted_hop)
        other = sqlite3.connect(tmp_path / "brief.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's short write, say
        pending = claim(batch, None, user.id, 100)
        assert not pending.done()
        asyncio.get_running_loop().call_later(0.01, other.execute, "ROLLBACK")
        assert await asyncio.wait_for(pending, 5) == "ok"
        assert hops == []  # retried here, not handed to the database thread
        other.close()
        await batch.aclose()
        assert (await models.User.get(id=user.id)).quota == 900


async def test_a_write_transaction_holds_sqlites_lock_from_its_start(tmp_path) -> None:
    async with sqlite_database(tmp_path / "wt.db"):
        other = sqlite3.connect(tmp_path / "wt.db", isolation_level=None, timeout=0)  # another worker
        with pytest.raises(OperationalError):  # the hazard: a commit between a plain one's read and write
            async with in_transaction():
                await models.Option.filter(key="probe").first()
                other.execute("INSERT INTO options (key, value) VALUES ('elsewhere', '1')")
                await models.Option.create(key="probe", value="1")
        async with write_transaction():
            assert await models.Option.filter(key="probe").first() is None
            with pytest.raises(sqlite3.OperationalError, match="locked"):  # the other waits its turn
                other.execute("INSERT INTO options (key, value) VALUES ('meanwhile', '1')")
            await models.Option.create(key="probe", value="1")
        assert await models.Option.filter(key="probe").count() == 1
        other.close()


async def test_the_loop_never_checkpoints_the_wal_a_thread_does(tmp_path) -> None:
    async with sqlite_database(tmp_path / "wal.db") as db:
        user = await models.User.create(username="wal", password="x", quota=10**9)
        batch = Writer(db, continuous=True)
        for _ in range(1500):  # each a commit of its own on the loop's connection
            assert await claim(batch, None, user.id, 1) == "ok"
        assert db._here is not None and db._here.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        wal = tmp_path / "wal.db-wal"
        grown = wal.stat().st_size
        assert grown > 1000 * 4096  # past where SQLite would have checkpointed (and fsynced) by itself
        busy, log_pages, copied = await db.checkpoint()  # type: ignore[misc]
        assert busy == 0 and log_pages > 1000 and copied == log_pages
        assert await claim(batch, None, user.id, 1) == "ok"  # the log starts over from its beginning
        assert wal.stat().st_size == grown  # reused, not grown
        await batch.aclose()
        assert (await models.User.get(id=user.id)).quota == 10**9 - 1501


@pytest.fixture
def counted(tmp_path: Path) -> Iterator[GatewayProcess]:
    env = gateway_env(ONEAPI_DB_STATS="1", SQLITE_PATH=str(tmp_path / "counted.db"), SESSION_SECRET="gc-secret")
    gw = GatewayProcess(env, name="counted").start()
    try:
        yield gw
    finally:
        gw.stop()


def test_concurrent_requests_share_their_writes(counted, upstream, tmp_path) -> None:
    _, user, token = setup(counted, upstream.base_url, 10_000_000, 1_000_000)
    assert chat(counted, token["key"]) == 200
    before = statements(counted)
    results = overlapping_load(counted, upstream, token["key"], 60)
    assert results.count(200) == 60
    # A write per reservation, the 60 settlements sharing a few writes: not two writes per request
    # (120); how many settlement writes depends on how the answers spread over time.
    assert statements(counted) - before <= 90
    assert rows(tmp_path / "counted.db", token["id"], user["id"]) == (
        (1_000_000 - 61 * PER_REQUEST, 61 * PER_REQUEST), (10_000_000 - 61 * PER_REQUEST, 61 * PER_REQUEST, 61))


def test_a_short_user_in_a_shared_write_gives_the_token_its_quota_back(counted, upstream, tmp_path) -> None:
    user_budget = PER_REQUEST * 5 + 7
    _, user, token = setup(counted, upstream.base_url, user_budget, 1_000_000)
    results = overlapping_load(counted, upstream, token["key"], 30)
    served = results.count(200)
    assert 0 < served <= 5 and results.count(403) == 30 - served
    refused = httpx.post(counted.base_url + "/v1/chat/completions", headers={"Authorization": f"Bearer sk-{token['key']}"},
                         json={"model": "test-model", "max_tokens": 10_000,
                               "messages": [{"role": "user", "content": "hi"}]}).json()
    assert refused["error"]["code"] == "insufficient_user_quota"
    statements(counted)  # a management read: pending settlements are written first
    token_row, user_row = rows(tmp_path / "counted.db", token["id"], user["id"])
    # Only the served requests cost the token anything; the refused claims' token part came back.
    assert token_row == (1_000_000 - served * PER_REQUEST, served * PER_REQUEST)
    assert user_row == (user_budget - served * PER_REQUEST, served * PER_REQUEST, served)
    with sqlite3.connect(tmp_path / "counted.db") as conn:
        assert conn.execute("SELECT count(*) FROM logs WHERE type = 2").fetchone()[0] == served


async def test_a_claim_waits_in_the_database_thread_while_another_connection_writes(tmp_path, monkeypatch) -> None:
    async with sqlite_database(tmp_path / "locked.db") as db:
        user = await models.User.create(username="claimer", password="x", quota=1000)
        token = await models.Token.create(user_id=user.id, key="k" * 48, name="t", remain_quota=300,
                                          created_time=0)
        batch = Writer(db, continuous=True)
        assert await claim(batch, token.id, user.id, 200) == "ok"  # written here, on the loop
        hops: list[asyncio.Event] = []
        in_thread = db.sqlite_in_thread

        async def watched_hop(*args: object) -> object:
            hops[-1].set()  # the write was handed to the database thread
            return await in_thread(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(db, "sqlite_in_thread", watched_hop)
        other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's lock
        hops.append(asyncio.Event())
        pending = claim(batch, token.id, user.id, 200)
        await asyncio.wait_for(hops[-1].wait(), 10)  # past the loop's patience, in the thread
        assert not pending.done()  # waiting for the lock there, neither written nor failed
        other.execute("ROLLBACK")
        assert await asyncio.wait_for(pending, 10) == "token"  # 100 left on the token: refused
        assert await claim(batch, None, user.id, 800) == "ok"  # unlimited token: only the user pays
        assert await claim(batch, token.id, user.id, 50) == "user"  # 0 left on the user
        other.close()
        async with in_transaction():  # the ORM reads, then writes, in one deferred transaction
            await models.Option.filter(key="GroupCommitProbe").first()
            hops.append(asyncio.Event())
            pending = claim(batch, None, user.id, 0)
            await asyncio.wait_for(hops[-1].wait(), 10)  # not on the loop's connection: in the thread
            assert not pending.done()  # no commit behind the transaction's back
            await models.Option.create(key="GroupCommitProbe", value="1")  # would fail: snapshot is stale
        assert await asyncio.wait_for(pending, 10) == "ok"
        await batch.aclose()
        row = (await models.Token.get(id=token.id)).remain_quota, (await models.User.get(id=user.id)).quota
        assert row == (100, 0)  # the refused user claim gave the token its 50 back
