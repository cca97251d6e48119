"""The ledger on SQLite when the disk fills up: a small file system of the test's own (tmpfs)
holds the database; a filler file takes every free byte while requests run.

While the disk is full, clients get an answer (a 200 or an error JSON, never a hang) and the
gateway logs the trouble without a flood of tracebacks. Once the filler is gone, nothing was
lost: every answered request is settled (one consume log each), no hold is left, the money
invariant holds exactly, the gateway serves again, and a SIGTERM afterwards drops nothing.

And what decides whether freed space stays free while traffic goes on: SQLite's write-ahead
log must level off under a steady load instead of growing with every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.ledger_invariant import (
    check,
    duplicate_log_request_ids,
    holds,
    snapshot,
    wait_until_quiet,
)
from tests.ledger_load import (
    Load,
    consume_logs,
    diagnosis,
    full_log,
    set_up,
    start_gateway,
    summary,
    tracebacks,
)

pytestmark = pytest.mark.timeout(120)

SIZE = "4m"  # the schema and its write-ahead log take ~1.5 MiB
BLOCK = 64 * 1024
FULL_FOR = 5.0  # seconds the disk stays full while requests run (several rounds of every 1 s job)
MAX_TRACEBACKS = 3


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs mounted for this test (root only); unmounted afterwards."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(where)],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot run mount here ({exc}): the full-disk test needs a file system of its own")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}): "
                    "the full-disk test needs a file system of its own")
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)  # still busy: detach it


def fill(directory: Path) -> tuple[Path, int]:
    """Write a filler file until the file system is full (ENOSPC); returns it and its size."""
    filler = directory / "filler"
    block = b"\0" * BLOCK
    written = 0
    with open(filler, "wb", buffering=0) as out:
        while True:
            try:
                written += out.write(block)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        with contextlib.suppress(OSError):  # the last bytes, down to nothing
            while out.write(b"\0" * 512):
                written += 512
    return filler, written


def traceback_sources(log_text: str) -> list[str]:
    """The log line before each traceback (what logged it), for assertion messages."""
    lines = log_text.splitlines()
    return [lines[i - 1][:160] for i, line in enumerate(lines) if line.startswith("Traceback") and i]


def test_full_disk_gives_clean_errors_and_loses_nothing(small_disk: Path, upstream: FakeOpenAI) -> None:
    db = small_disk / "one-api.db"
    gw = start_gateway({"SQLITE_PATH": str(db)}, "disk")
    try:
        accounts = set_up(gw, upstream.base_url)
        before = snapshot(db)
        upstream.latency = 0.02
        upstream.chunk_count = 4
        upstream.chunk_interval = 0.05
        load = Load(gw.base_url, accounts.keys)
        plan: list[tuple[str, int | None]] = [("stream", None) if i % 8 == 0 else ("plain", None) for i in range(400)]
        marks: dict[str, int] = {}

        async def scenario() -> int:
            task = asyncio.create_task(load.run(plan, concurrency=6, spacing=0.02))
            await load.until(lambda lo: lo.finished >= 20, 20)
            marks["full"] = load.started
            _, size = await asyncio.to_thread(fill, small_disk)
            await asyncio.sleep(FULL_FOR)
            load.stopping = True  # no new requests; those in flight finish
            await task
            marks["freed"] = load.started
            (small_disk / "filler").unlink()
            return size

        began = time.monotonic()
        filled = asyncio.run(scenario())
        took = time.monotonic() - began
        outcomes = load.outcomes
        log_text = full_log(gw)

        # Clean answers, no hang, no traceback flood.
        assert filled > 0
        assert not [o for o in outcomes if o.error == "hang"], summary(outcomes)
        for o in outcomes:
            assert o.status is not None, (o, summary(outcomes))  # always an HTTP answer
            assert (o.status == 200 and o.done) or o.clean_error, (o, summary(outcomes))
        refused = [o for o in outcomes if o.status != 200]
        assert refused, f"the full disk went unnoticed: {summary(outcomes)}"
        during_outage = tracebacks(gw)  # asserted last: the books matter more

        # Space is back: every answered request settles, nothing is left open, the books are exact.
        left = wait_until_quiet(db, 15)
        assert left == [], (left, full_log(gw)[-3000:])
        violations = check(db, before)
        duplicates = duplicate_log_request_ids(db, since=before)
        logs = consume_logs(db, before)
        wrong = [(o.kind, o.status, o.request_id, logs[o.request_id]) for o in outcomes
                 if logs[o.request_id] != (1 if o.status == 200 else 0)]
        assert (violations, duplicates, wrong) == ([], [], []), (violations, duplicates, wrong,
                                                                diagnosis(db, before, outcomes), summary(outcomes))

        # The gateway serves again, and a SIGTERM drops nothing.
        after = Load(gw.base_url, accounts.keys)
        again = asyncio.run(after.run([("plain", None)] * 12, concurrency=4))
        assert all(o.status == 200 and o.done for o in again), summary(again)
        served = sum(o.status == 200 for o in outcomes + again)
        assert gw.stop(signal.SIGTERM) == 0, full_log(gw)[-3000:]
        assert "could not be written" not in full_log(gw)
        assert holds(db) == [] and check(db, before) == []
        assert sum(consume_logs(db, before).values()) == served
        print(f"full disk: {summary(outcomes)} in {took:.1f} s ({marks}); afterwards {summary(again)}; "
              f"{during_outage} tracebacks")
        # The trouble is told, not flooded: one traceback per round of a 1 s job is a flood.
        assert during_outage <= MAX_TRACEBACKS, (during_outage, traceback_sources(log_text))
    finally:
        if gw.proc is not None:
            gw.stop(signal.SIGKILL)


def test_the_write_ahead_log_stays_bounded_under_steady_load(tmp_path: Path, upstream: FakeOpenAI) -> None:
    """Why a small disk freed while traffic goes on fills up again: under a steady load the
    WAL must be checkpointed *and restarted* (reused from its start) every round of the 1 s
    checkpoint job, so its size levels off at about a round's worth of writes; if it is never
    restarted it grows by every write (~75 KB a request) for as long as the traffic lasts."""
    db = tmp_path / "one-api.db"
    wal = tmp_path / "one-api.db-wal"
    gw = start_gateway({"SQLITE_PATH": str(db)}, "wal")
    try:
        accounts = set_up(gw, upstream.base_url)
        upstream.latency = 0.02
        load = Load(gw.base_url, accounts.keys)
        samples: list[tuple[float, int]] = []

        async def scenario() -> None:
            task = asyncio.create_task(load.run([("plain", None)] * 500, concurrency=4, spacing=0.01))
            began = time.monotonic()
            while not task.done():
                samples.append((time.monotonic() - began, wal.stat().st_size if wal.exists() else 0))
                await asyncio.sleep(0.25)
            await task

        asyncio.run(scenario())
        assert all(o.status == 200 for o in load.outcomes), summary(load.outcomes)
        took = samples[-1][0]
        early = max(size for at, size in samples if at <= 2.0)
        late = max(size for _, size in samples)
        trace = [(round(at, 1), size // 1024) for at, size in samples[::4]]
        assert took >= 4.0, f"the load ended too soon to tell ({took:.1f} s)"
        assert late <= 1.6 * early, (
            f"the WAL kept growing under a steady load: {early // 1024} KiB after 2 s, {late // 1024} KiB "
            f"after {took:.1f} s ({len(load.outcomes)} requests); (s, KiB): {trace}")
    finally:
        if gw.proc is not None:
            gw.stop(signal.SIGTERM)
