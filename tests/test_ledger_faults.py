"""The ledger under faults, with the real gateway as a subprocess on SQLite, PostgreSQL and MariaDB:

- SIGKILL while streams are open: right after the kill the money invariant holds with the open
  holds counted; a restart on the same database refunds every hold left (in full, with a note)
  at once, and then the invariant holds with no hold open;
- SIGTERM while streams are open: everything is settled or released, nothing is left;
- SIGKILL with BATCH_UPDATE_ENABLED, between two flushes: what was flushed is consistent, and
  the restart leaves no stale hold;
- the database connection cut at random (a TCP proxy) during a load: every client gets a
  200 or a clean error, never a hang; a 200 is charged exactly once, an error never; and the
  gateway still stops on SIGTERM;
- in-process, the cut that can hang that stop: a ledger write whose BEGIN is cut must give its
  pool connection back.

Each load is bounded (a few dozen requests, every one bounded in time) and stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.chaos_proxy import ChaosProxy
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess
from tests.ledger_invariant import (
    check,
    duplicate_log_request_ids,
    holds,
    snapshot,
    wait_until_quiet,
)
from tests.ledger_load import (
    DIALECTS,
    PORTS,
    Backend,
    Load,
    Outcome,
    backend,
    consume_logs,
    diagnosis,
    full_log,
    set_up,
    start_gateway,
    summary,
    system_notes,
)

pytestmark = pytest.mark.timeout(120)

STREAM_CHUNKS = 8
CHUNK_INTERVAL = 0.2  # a whole stream lasts ~1.6 s: several are open at any moment of the load


@pytest.fixture(params=DIALECTS)
def base(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with backend(request.param, tmp_path) as found:
        yield found


@pytest.fixture
def running() -> Iterator[list[GatewayProcess]]:
    """Gateways a test started: whatever is still running at its end is killed."""
    started: list[GatewayProcess] = []
    yield started
    for gw in started:
        if gw.proc is not None:
            gw.stop(signal.SIGKILL)


def slow_streams(upstream: FakeOpenAI) -> None:
    upstream.latency = 0.05
    upstream.chunk_count = STREAM_CHUNKS
    upstream.chunk_interval = CHUNK_INTERVAL


def mixed_plan(streams: int, hang_ups: int, plain: int, seed: int) -> list[tuple[str, int | None]]:
    """Streams (``hang_ups`` of them leave after 2 chunks) and plain requests, shuffled."""
    plan: list[tuple[str, int | None]] = [("stream", 2)] * hang_ups + [("stream", None)] * (streams - hang_ups)
    plan += [("plain", None)] * plain
    random.Random(seed).shuffle(plan)
    return plan


def streams_done(load: Load) -> int:
    return sum(1 for o in load.outcomes if o.kind == "stream" and o.done)


def load_then_signal(gw: GatewayProcess, load: Load, plan: list[tuple[str, int | None]], sig: int,
                     ready: int = 3) -> bool:
    """Run ``plan`` against ``gw`` and send ``sig`` once some streams finished and ``ready`` are
    open; returns whether that moment came (else the signal was sent when the load ended)."""
    assert gw.proc is not None
    pid = gw.proc.pid

    async def scenario() -> bool:
        task = asyncio.create_task(load.run(plan, concurrency=20, spacing=0.03))
        came = await load.until(lambda lo: streams_done(lo) >= 2 and lo.open_streams >= ready, 20)
        os.kill(pid, sig)
        await task
        return came

    return asyncio.run(scenario())


def no_hangs(outcomes: list[Outcome]) -> None:
    hung = [o for o in outcomes if o.error == "hang"]
    assert not hung, f"{len(hung)} requests hung: {summary(outcomes)}"


def answers_are_clean(outcomes: list[Outcome]) -> None:
    """Every HTTP answer is a complete 200 or an error JSON (a cut stream aside)."""
    for o in outcomes:
        if o.status is None:
            continue
        if o.status == 200:
            if o.kind == "plain":
                assert o.done and not o.error, (o, summary(outcomes))
        else:
            assert o.clean_error, (o, summary(outcomes))


def wait_exit(gw: GatewayProcess, timeout: float = 40) -> int:
    assert gw.proc is not None
    code = gw.proc.wait(timeout)
    gw.proc = None
    return code


def term_within(gw: GatewayProcess, seconds: float) -> int | None:
    """SIGTERM ``gw``: its exit code, or None if it had not exited within ``seconds`` (it is then killed)."""
    assert gw.proc is not None
    gw.proc.send_signal(signal.SIGTERM)
    try:
        return wait_exit(gw, seconds)
    except subprocess.TimeoutExpired:
        gw.stop(signal.SIGKILL)
        return None


# ----- SIGKILL while streams are open ------------------------------------------------------
def test_sigkill_mid_stream_refunds_open_holds_at_restart(base: Backend, upstream: FakeOpenAI,
                                                          running: list[GatewayProcess]) -> None:
    gw = start_gateway(base.env, "kill")
    running.append(gw)
    accounts = set_up(gw, upstream.base_url)
    before = snapshot(base.db)
    slow_streams(upstream)
    load = Load(gw.base_url, accounts.keys)
    came = load_then_signal(gw, load, mixed_plan(streams=14, hang_ups=5, plain=30, seed=1), signal.SIGKILL)
    assert wait_exit(gw) == -signal.SIGKILL
    outcomes = load.outcomes
    assert came, f"the load never had streams open: {summary(outcomes)}"
    no_hangs(outcomes)
    answers_are_clean(outcomes)

    # Right after the kill: every quota movement is a consume log or an open hold.
    assert check(base.db, before) == []
    left = {str(h["request_id"]) for h in holds(base.db)}
    assert left, "the streams open at the kill left no hold"
    cut = [o for o in outcomes if o.kind == "stream" and o.status == 200 and not o.done and not o.hung_up]
    assert cut, summary(outcomes)

    # A restart on the same database returns what the dead process held, at once.
    began = time.monotonic()
    again = start_gateway(base.env, "restart")
    running.append(again)
    assert wait_until_quiet(base.db, 5) == []
    quiet_after = time.monotonic() - began
    assert check(base.db, before) == []
    assert duplicate_log_request_ids(base.db, since=before) == []
    logs, notes = consume_logs(base.db, before), system_notes(base.db, before)
    for rid in left:  # refunded in full (the invariant), never charged, with a note naming it
        assert logs[rid] == 0 and rid in notes, (rid, logs[rid], rid in notes)
    for o in outcomes:
        if o.status is not None and o.status != 200:
            assert logs[o.request_id] == 0, o  # an error is never charged
        elif o.status == 200:  # answered: charged once, or (settlement lost in the crash) refunded with a note
            assert (logs[o.request_id] == 1) != (o.request_id in notes), (o, logs[o.request_id])
    assert quiet_after < 10, quiet_after
    assert again.stop() == 0, full_log(again)[-3000:]


# ----- SIGTERM while streams are open ------------------------------------------------------
def test_sigterm_mid_stream_settles_or_releases_everything(base: Backend, upstream: FakeOpenAI,
                                                           running: list[GatewayProcess]) -> None:
    gw = start_gateway(base.env, "term")
    running.append(gw)
    accounts = set_up(gw, upstream.base_url)
    before = snapshot(base.db)
    slow_streams(upstream)
    load = Load(gw.base_url, accounts.keys)
    came = load_then_signal(gw, load, mixed_plan(streams=14, hang_ups=5, plain=30, seed=2), signal.SIGTERM)
    code = wait_exit(gw)
    log_text = full_log(gw)
    outcomes = load.outcomes
    assert came, f"the load never had streams open: {summary(outcomes)}"
    assert code == 0, log_text[-3000:]
    no_hangs(outcomes)
    answers_are_clean(outcomes)
    assert "could not be written" not in log_text, log_text[-3000:]

    # Graceful: nothing left open, nothing counted twice, the invariant exact.
    assert holds(base.db) == []
    assert check(base.db, before) == []
    assert duplicate_log_request_ids(base.db, since=before) == []
    logs = consume_logs(base.db, before)
    for o in outcomes:
        if o.status is not None and o.status != 200:
            assert logs[o.request_id] == 0, o
        elif o.status == 200 and (o.kind == "plain" or o.done or o.chunks):
            assert logs[o.request_id] == 1, (o, summary(outcomes))  # delivered: charged once
    served = [o for o in outcomes if o.status == 200]
    assert len(served) >= 10, summary(outcomes)
    cut = [o for o in served if o.kind == "stream" and not (o.done or o.hung_up)]
    assert cut == [], f"streams in flight at SIGTERM were cut: {summary(outcomes)}"


# ----- SIGKILL between two batch flushes ---------------------------------------------------
def test_sigkill_mid_batch_leaves_no_stale_hold(base: Backend, upstream: FakeOpenAI,
                                                running: list[GatewayProcess]) -> None:
    batch = {"BATCH_UPDATE_ENABLED": "true", "BATCH_UPDATE_INTERVAL": "1"}
    gw = start_gateway({**base.env, **batch}, "batch")
    running.append(gw)
    accounts = set_up(gw, upstream.base_url)
    before = snapshot(base.db)
    slow_streams(upstream)
    load = Load(gw.base_url, accounts.keys)
    plan = mixed_plan(streams=8, hang_ups=3, plain=40, seed=3)

    async def scenario() -> bool:
        assert gw.proc is not None
        task = asyncio.create_task(load.run(plan, concurrency=20, spacing=0.04))
        # Past the first flushes, with streams open and settlements waiting for the next flush.
        came = await load.until(lambda lo: lo.finished >= 20 and lo.open_streams >= 2, 20)
        # A flush has reached the database (on a fast run 20 requests finish before the first one)
        deadline = time.monotonic() + 10
        while not await asyncio.to_thread(consume_logs, base.db, before) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5 * random.Random(4).random())  # anywhere in the interval
        os.kill(gw.proc.pid, signal.SIGKILL)
        await task
        return came

    came = asyncio.run(scenario())
    assert wait_exit(gw) == -signal.SIGKILL
    outcomes = load.outcomes
    assert came, summary(outcomes)
    no_hangs(outcomes)
    answers_are_clean(outcomes)
    # Each flush is one transaction: what reached the database is consistent at any moment.
    assert check(base.db, before) == []
    again = start_gateway({**base.env, **batch}, "batch-restart")
    running.append(again)
    assert wait_until_quiet(base.db, 5) == []
    assert check(base.db, before) == []
    assert duplicate_log_request_ids(base.db, since=before) == []
    logs = consume_logs(base.db, before)
    for o in outcomes:
        if o.status is not None and o.status != 200:
            assert logs[o.request_id] == 0, o
        else:
            assert logs[o.request_id] <= 1, o
    assert any(logs[o.request_id] == 1 for o in outcomes if o.status == 200), "no flush reached the database"
    # The streams open at the kill were answered 200 and never settled: charged nothing.
    unsettled = [o for o in outcomes if o.status == 200 and logs[o.request_id] == 0]
    assert unsettled, f"nothing was in flight at the kill: {summary(outcomes)}"
    assert again.stop() == 0, full_log(again)[-3000:]


# ----- the database connection cut at random -----------------------------------------------
@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_database_connection_cuts(kind: str, tmp_path: Path, upstream: FakeOpenAI,
                                  running: list[GatewayProcess]) -> None:
    with backend(kind, tmp_path) as db_base, \
            ChaosProxy(PORTS[kind], cut_probability=0.02, seed=11, max_cuts=40, chaos=False) as proxy:
        gw = start_gateway(db_base.via(proxy.port), "chaos", LEDGER_LEASE_SECONDS="4")
        running.append(gw)
        accounts = set_up(gw, upstream.base_url)
        before = snapshot(db_base.db)
        upstream.latency = 0.02
        upstream.chunk_count = 4
        upstream.chunk_interval = 0.05
        plan = mixed_plan(streams=16, hang_ups=0, plain=104, seed=5)
        load = Load(gw.base_url, accounts.keys)
        proxy.chaos = True
        began = time.monotonic()
        outcomes = asyncio.run(load.run(plan, concurrency=8, spacing=0.03))
        proxy.chaos = False
        took = time.monotonic() - began
        cuts = proxy.cuts
        assert cuts >= 5, f"only {cuts} cuts in {took:.1f} s: the test did not test much"
        no_hangs(outcomes)
        assert all(o.status is not None for o in outcomes), summary(outcomes)  # no transport error
        answers_are_clean(outcomes)
        assert all(o.done for o in outcomes if o.status == 200), summary(outcomes)

        # Chaos off: holds of uncertain writes are released (lease 4 s), then the books are exact.
        quiet_from = time.monotonic()
        left = wait_until_quiet(db_base.db, 20)
        print(f"{kind}: {cuts} cuts, load {took:.1f} s, quiet after {time.monotonic() - quiet_from:.1f} s: "
              f"{summary(outcomes)}")
        assert left == [], (left, full_log(gw)[-3000:])
        violations = check(db_base.db, before)
        duplicates = duplicate_log_request_ids(db_base.db, since=before)
        logs = consume_logs(db_base.db, before)
        wrong = [(o.kind, o.status, o.request_id, logs[o.request_id]) for o in outcomes
                 if logs[o.request_id] != (1 if o.status == 200 else 0)]
        why = diagnosis(db_base.db, before, outcomes)
        assert (violations, duplicates, wrong) == ([], [], []), (violations, duplicates, wrong, why, cuts,
                                                                summary(outcomes))
        assert sum(o.status == 200 for o in outcomes) >= 10, summary(outcomes)  # settlements were exercised
        # A graceful stop takes well under a second here; a connection lost by the pool would hang it.
        code = term_within(gw, 10)
        assert code == 0, f"SIGTERM: exit code {code} (None: still running after 10 s)\n{full_log(gw)[-2000:]}"
        assert holds(db_base.db) == [] and check(db_base.db, before) == []


# ----- what makes the stop hang, in-process ------------------------------------------------
@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_a_ledger_write_cut_at_begin_gives_its_connection_back(kind: str, tmp_path: Path) -> None:
    """The database connection is cut just as a ledger write sends BEGIN: nothing of that write
    happened, so it is tried once more at once, on another connection, and succeeds; the cut
    connection must go back to the pool. With a pool of one connection the retry, the next
    write and the close then work at once; a connection kept by the failed BEGIN makes every
    later write wait forever, and the close (the gateway's shutdown) too."""
    with backend(kind, tmp_path) as db_base, ChaosProxy(PORTS[kind], cut_probability=1.0, max_cuts=1,
                                                        chaos=False) as proxy:
        asyncio.run(_cut_at_begin(db_base.via(proxy.port), proxy))


async def _cut_at_begin(env: dict[str, str], proxy: ChaosProxy) -> None:
    import tortoise.context
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    from oneapi import models
    from oneapi.db import Database
    from oneapi.ledger import Writer
    from oneapi.ledger._program import Hold, Take
    from oneapi.settings import Settings

    EXECUTOR_CACHE.clear()  # another test of this session may have used another dialect
    db = Database(Settings(**env, SQL_MAX_OPEN_CONNS=1))  # one pooled connection
    await db.connect()
    closed = False
    try:
        await db.migrate()
        user_id = (await models.User.create(username="cut", password="x", quota=1000)).id
        writer = Writer(db)

        def take(rid: str) -> Take:
            return Take(Hold(rid, user_id, 0, False, 10), checked=True, node="test/node", lease_until=0)

        proxy.chaos = True  # the next chunk either way (the ledger write's BEGIN) cuts its connection
        try:
            async with asyncio.timeout(3):
                assert await writer.take_now(take("cut-at-begin")) == "ok"  # retried: no 503
        except TimeoutError:
            raise AssertionError("the write cut at BEGIN was not retried on another connection within 3 s: "
                                 "the cut one was never given back") from None
        assert proxy.cuts == 1
        proxy.chaos = False
        try:
            async with asyncio.timeout(3):
                assert await writer.take_now(take("after-the-cut")) == "ok"
                await writer.aclose()
        except TimeoutError:
            raise AssertionError("the next ledger write still waited for a pool connection after 3 s: the "
                                 "write cut at BEGIN never gave its connection back") from None
        assert writer.pending == []
        try:
            async with asyncio.timeout(3):
                await db.close()
        except TimeoutError:
            raise AssertionError("the database did not close within 3 s after a ledger write was cut at "
                                 "BEGIN: its pool waits for a connection that was never given back") from None
        closed = True
    finally:
        EXECUTOR_CACHE.clear()
        if not closed:
            with contextlib.suppress(BaseException):
                async with asyncio.timeout(1):
                    await db.close()
            tortoise.context._global_context = None  # a close that hung leaves it set: free the next tests
