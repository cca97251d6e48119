"""The ledger as the relay and plugins use it (``oneapi.ledger.Ledger``, ``Bill``), in-process on
an in-memory SQLite: reservations, settlements, releases, credits and billed calls."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator

import pytest

from oneapi.ledger import Bill, Ledger, Node, Writer, _writer
from oneapi.ledger._local import LocalQuota
from oneapi.ledger._program import LOG_CONSUME
from oneapi.relay.context import RelayError
from tests.unit.ledger_kit import (
    AsyncConn,
    MemoryDB,
    add_token,
    add_user,
    context,
    holds,
    logs,
    token_row,
    user_row,
)

WAIT = 1.0


@pytest.fixture
def make_ledger(conn: sqlite3.Connection, tmp_path) -> Iterator[Callable[..., tuple[Ledger, MemoryDB]]]:
    made: list[Ledger] = []

    def make(batched: bool = False) -> tuple[Ledger, MemoryDB]:
        db = MemoryDB(conn)
        writer = Writer(db, continuous=False)  # type: ignore[arg-type]
        local = LocalQuota(db, writer, ttl=60) if batched else None  # type: ignore[arg-type]
        ledger = Ledger(db, writer, local=local, node=Node(str(tmp_path)))  # type: ignore[arg-type]
        made.append(ledger)
        return ledger, db

    yield make
    for ledger in made:
        if ledger.writer._drainer is not None:
            ledger.writer._drainer.cancel()


def accounts(conn: sqlite3.Connection, quota: int = 10_000, remain: int = 5_000,
             unlimited: bool = False) -> tuple[int, int]:
    user = add_user(conn, quota)
    return user, add_token(conn, user, remain, unlimited)


async def test_a_reservation_holds_from_token_and_user_until_it_is_settled(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)
    hold = await ledger.reserve(context(user, token), 600)
    assert (hold.amount, hold.token_limited, hold.written) == (600, True, True)
    assert ledger.open == {hold.request_id: hold} and list(holds(conn)) == [hold.request_id]
    assert user_row(conn, user)[0] == 9_400 and token_row(conn, token)[0] == 4_400
    ledger.settle(hold, 250, 0, {"model_name": "m"})
    assert await ledger.writer.flush()
    assert ledger.open == {} and holds(conn) == {}
    assert user_row(conn, user) == (9_750, 250, 1) and token_row(conn, token) == (4_750, 250)


@pytest.mark.parametrize(("quota", "remain", "code"), [
    (10_000, 599, "insufficient_token_quota"), (599, 10_000, "insufficient_user_quota")])
async def test_a_short_reservation_is_refused_with_403_and_holds_nothing(conn, make_ledger, quota, remain,
                                                                         code) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn, quota, remain)
    with pytest.raises(RelayError) as refused:
        await ledger.reserve(context(user, token), 600)
    assert (refused.value.status, refused.value.type, refused.value.code) == (403, "insufficient_quota", code)
    assert "600" in refused.value.message
    assert ledger.open == {} and holds(conn) == {}
    assert user_row(conn, user)[0] == quota and token_row(conn, token)[0] == remain


async def test_an_unlimited_token_reserves_from_the_user_only(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn, remain=0, unlimited=True)
    hold = await ledger.reserve(context(user, token, unlimited=True), 600)
    assert hold.token_limited is False and holds(conn) == {hold.request_id: (0, 600)}
    assert token_row(conn, token)[0] == 0 and user_row(conn, user)[0] == 9_400


@pytest.mark.parametrize("amount", [0, -5])
async def test_a_reservation_of_nothing_writes_nothing_and_is_charged_in_full(conn, make_ledger, amount) -> None:
    ledger, db = make_ledger()
    user, token = accounts(conn)
    hold = await ledger.reserve(context(user, token), amount)
    assert hold.amount == 0 and db.writes == 0 and ledger.open == {}
    ledger.settle(hold, 30, 0, {})
    assert await ledger.writer.flush()
    assert user_row(conn, user) == (9_970, 30, 1)


async def test_a_hold_is_settled_or_released_once(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)
    hold = await ledger.reserve(context(user, token), 500)
    ledger.settle(hold, 100, 0, {})
    ledger.settle(hold, 100, 0, {})  # a second settlement is refused here already
    ledger.release(hold)  # and so is a release after it
    assert len(ledger.writer) == 1
    assert await ledger.writer.flush()
    assert user_row(conn, user) == (9_900, 100, 1) and token_row(conn, token) == (4_900, 100)


async def test_a_release_gives_everything_back(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)
    hold = await ledger.reserve(context(user, token), 500)
    ledger.release(hold, note="upstream failed")
    ledger.settle(hold, 100, 0, {})  # too late: released
    assert await ledger.writer.flush()
    assert user_row(conn, user) == (10_000, 0, 0) and token_row(conn, token) == (5_000, 0)
    assert [r["content"] for r in logs(conn)] == ["upstream failed"] and ledger.open == {}


async def test_a_negative_charge_is_charged_as_nothing(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)
    ledger.settle(await ledger.reserve(context(user, token), 500), -70, 0, {})
    assert await ledger.writer.flush()
    assert user_row(conn, user) == (10_000, 0, 1) and [r["quota"] for r in logs(conn)] == [0]


async def test_a_reservation_when_the_database_fails_is_a_503(conn, make_ledger) -> None:
    ledger, db = make_ledger()
    user, token = accounts(conn)
    db.faults = [sqlite3.OperationalError("disk I/O error")]
    with pytest.raises(RelayError) as refused:
        await ledger.reserve(context(user, token), 500)
    assert (refused.value.status, refused.value.code) == (503, "billing_unavailable")
    assert holds(conn) == {} and ledger.open == {}


async def test_a_reservation_is_refused_while_the_writer_is_overloaded(conn, make_ledger, monkeypatch) -> None:
    ledger, db = make_ledger()
    user, token = accounts(conn)
    monkeypatch.setattr(_writer, "MAX_PENDING", 1)
    ledger.settle(await ledger.reserve(context(user, token), 10), 10, 0, {})  # one pending
    with pytest.raises(RelayError) as refused:
        await ledger.reserve(context(user, token), 10)
    assert (refused.value.status, refused.value.code) == (503, "billing_unavailable") and db.writes == 1


async def test_a_reservation_cancelled_while_queued_leaves_nothing(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)
    async with ledger.writer.quiet():  # a write is under way: the take waits in the queue
        task = asyncio.ensure_future(ledger.reserve(context(user, token), 500))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert await ledger.writer.flush()
    assert holds(conn) == {} and ledger.open == {} and user_row(conn, user)[0] == 10_000


# --- billed calls ---------------------------------------------------------------------------


async def test_a_billed_call_charges_what_its_bill_keeps_before_returning(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)

    async def call(bill: Bill) -> str:
        assert list(holds(conn)) == [bill.hold.request_id]  # held while the call runs
        bill.keep(420, channel_id=0, model_name="mj_imagine", content="task 1")
        return "task-1"

    assert await ledger.billed_call(context(user, token), 500, call) == "task-1"
    # Written before billed_call returned (the writer here never writes by itself).
    assert holds(conn) == {} and user_row(conn, user) == (9_580, 420, 1)
    assert [(r["quota"], r["model_name"], r["content"]) for r in logs(conn)] == [(420, "mj_imagine", "task 1")]


async def test_a_billed_call_that_keeps_nothing_or_fails_is_released(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)

    async def keeps_nothing(bill: Bill) -> None:
        return None

    async def fails(bill: Bill) -> None:
        bill.keep(100)
        raise ValueError("upstream refused")

    await ledger.billed_call(context(user, token), 500, keeps_nothing)
    with pytest.raises(ValueError):
        await ledger.billed_call(context(user, token), 500, fails)
    assert await ledger.writer.flush()
    assert user_row(conn, user) == (10_000, 0, 0) and holds(conn) == {} and ledger.open == {}


async def test_a_billed_call_runs_to_its_end_when_its_caller_leaves(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)
    started, proceed = asyncio.Event(), asyncio.Event()

    async def call(bill: Bill) -> str:
        started.set()
        await proceed.wait()
        bill.keep(300)
        return "done"

    caller = asyncio.ensure_future(ledger.billed_call(context(user, token), 500, call))
    await asyncio.wait_for(started.wait(), WAIT)
    caller.cancel()  # the client hung up after its job reached the upstream
    await asyncio.gather(caller, return_exceptions=True)
    proceed.set()
    for _ in range(100):
        await asyncio.sleep(0.002)
        if user_row(conn, user)[1]:
            break
    assert user_row(conn, user) == (9_700, 300, 1) and holds(conn) == {}


def test_a_bill_keeps_a_charge_and_its_log_fields() -> None:
    from tests.unit.ledger_kit import hold

    bill = Bill(hold(1, 2, 10))
    assert (bill.quota, bill.channel_id, bill.log) == (None, 0, {})
    bill.keep(7, channel_id=3, model_name="m")
    assert (bill.quota, bill.channel_id, bill.log) == (7, 3, {"model_name": "m"})


# --- credits -----------------------------------------------------------------------------------


async def test_a_credit_in_the_callers_transaction_gives_back_once(conn, make_ledger) -> None:
    ledger, _ = make_ledger()
    user, token = accounts(conn)

    async def charge(bill: Bill) -> None:
        bill.keep(400)

    ctx = context(user, token)
    await ledger.billed_call(ctx, 400, charge)
    for _ in range(2):  # a replayed refund (e.g. the poller and a callback both saw the failure)
        await ledger.credit_in(AsyncConn(conn), request_id="refund-1", of_request=ctx.request_id, user_id=user,
                               token_id=token, channel_id=0, amount=150, username="u", token_name="t",
                               content="task failed")
    await ledger.credit_in(AsyncConn(conn), request_id="refund-2", of_request="never-charged", user_id=user,
                           token_id=token, channel_id=0, amount=150, username="u", token_name="t")
    assert user_row(conn, user)[:2] == (9_750, 250) and token_row(conn, token) == (4_750, 250)
    assert [(r["request_id"], r["quota"]) for r in logs(conn, LOG_CONSUME)] == [
        (ctx.request_id, 400), ("refund-1", -150)]


# --- BATCH_UPDATE_ENABLED: reservations checked in memory ---------------------------------------


async def test_batched_reservations_are_checked_in_memory_and_written_with_the_batch(conn, make_ledger) -> None:
    ledger, db = make_ledger(batched=True)
    user, token = accounts(conn, 10_000, 1_000)
    first = await ledger.reserve(context(user, token), 600)
    with pytest.raises(RelayError) as refused:  # 600 of 1000 are held in memory already
        await ledger.reserve(context(user, token), 600)
    assert refused.value.code == "insufficient_token_quota"
    assert db.writes == 0 and holds(conn) == {}  # no round trip to the database for either
    assert ledger.local is not None and ledger.local.balance("tokens", token) == 400
    ledger.settle(first, 100, 0, {})
    assert ledger.local.balance("tokens", token) == 900  # the take was never written: charged directly
    assert await ledger.writer.flush()
    assert db.writes == 1 and holds(conn) == {}
    assert token_row(conn, token) == (900, 100) and user_row(conn, user) == (9_900, 100, 1)
    assert ledger.local.balance("tokens", token) == 900
