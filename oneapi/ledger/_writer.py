"""The ledger's writer: pending operations, written together in one transaction per write.

Continuous (the default): a take is written at once (on SQLite on the event loop's own
connection while the write lock is free); settlements wait at most ``SETTLE_DELAY`` for
company, and whatever arrives during a write goes into the next one (group commit). With
BATCH_UPDATE_ENABLED everything waits for the interval flush.

A write that fails is handled by what failed: a transient failure (the database is down,
locked, the disk full) keeps every operation for the next try, backing off, and logs once per
interval; a failure of the data (a constraint) is narrowed down by halves until the one
operation that cannot be written is left, which is recorded in ``ledger_failures`` (its
hold given back) and never blocks the others. On PostgreSQL and MySQL a transient failure
may hide a commit whose reply was lost: the next try of those operations checks first
(see ``_program``), so it never counts twice.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from ..db import causes, transaction
from ._program import (
    INSERT_HOLD,
    TAKE_TOKEN,
    TAKE_USER,
    UNTAKE_TOKEN,
    Credit,
    Failed,
    Op,
    Release,
    Settle,
    Take,
    program,
)

if TYPE_CHECKING:
    from ..db import Database

__all__ = ["Writer"]

log = logging.getLogger("oneapi.ledger")

SETTLE_DELAY = 0.005  # seconds a settlement may wait for others to share its write
LOCKED_RETRY = 0.001  # seconds between tries while SQLite's lock is held (uvloop makes shorter sleeps 0)
LOCKED_PATIENCE = 0.05  # seconds of such tries before the write goes to the database thread
BACKOFF = (0.2, 5.0)  # seconds before retrying after a transient failure: first, at most
REPORT_EVERY = 10.0  # seconds between two error lines about the same trouble
MAX_PENDING = 100_000  # operations kept in memory while the database fails; new takes are refused beyond


class LedgerUnavailable(Exception):
    """The database cannot take the write now (the request is not charged)."""


def _drive_sync(conn: sqlite3.Connection, steps: Generator[Any, Any, None]) -> None:
    result: Any = None
    while True:
        try:
            kind, sql, args = steps.send(result)
        except StopIteration:
            return
        if kind == "exec":
            result = conn.execute(sql, args).rowcount
        elif kind == "ids":
            result = [row[0] for row in conn.execute(sql, args)]
        else:
            conn.executemany(sql, args)
            result = None


def _take_alone(conn: sqlite3.Connection, take: Take) -> None:
    """``program([take])`` written out: a lone reservation is the hot path's one write."""
    hold = take.hold
    if hold.token_limited and not conn.execute(TAKE_TOKEN, (hold.amount, hold.token_id, hold.amount)).rowcount:
        take.outcome = "token"
    elif not conn.execute(TAKE_USER, (hold.amount, hold.user_id, hold.amount)).rowcount:
        if hold.token_limited:
            conn.execute(UNTAKE_TOKEN, (hold.amount, hold.token_id))
        take.outcome = "user"
    else:
        conn.execute(INSERT_HOLD, (hold.request_id, hold.user_id, hold.token_id, hold.token_amount, hold.amount,
                                   take.node, take.lease_until, int(time.time())))
        take.outcome = "ok"


def write_sqlite(conn: sqlite3.Connection, ops: list[Op]) -> bool:
    """``ops`` in one SQLite transaction on a plain sqlite3 connection; True when committed."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if len(ops) == 1 and isinstance(ops[0], Take) and ops[0].checked:
            _take_alone(conn, ops[0])
        else:
            _drive_sync(conn, program(ops, True))
        conn.execute("COMMIT")
        return True
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class NotCommitted(Exception):
    """A write failed before its COMMIT was sent: nothing of it happened (no doubt to check)."""


async def write_async(db: Database, ops: list[Op], conn: Any = None) -> None:
    """``ops`` in one ORM transaction (any database), or inside the caller's transaction ``conn``.
    A failure before the COMMIT is raised as ``NotCommitted`` (from the cause)."""
    if conn is None:
        committing = False
        try:
            async with transaction() as tx:
                await write_async(db, ops, tx)
                committing = True
        except Exception as exc:
            if committing:
                raise  # the reply to COMMIT was lost, or the COMMIT failed: it may have happened
            raise NotCommitted(str(exc)) from exc
        return
    steps = program(ops, db.dialect == "sqlite")
    result: Any = None
    while True:
        try:
            kind, sql, args = steps.send(result)
        except StopIteration:
            return
        text = db.sql(sql)
        if kind == "exec":
            result = (await conn.execute_query(text, args))[0]
        elif kind == "ids":
            result = [next(iter(row.values())) for row in await conn.execute_query_dict(text, args)]
        else:
            await conn.execute_many(text, args)
            result = None


def permanent(exc: BaseException) -> bool:
    """Whether ``exc`` says the data cannot be written (a retry would fail alike), rather than
    that the database could not be reached or was busy."""
    from tortoise.exceptions import IntegrityError

    for err in causes(exc):
        if isinstance(err, sqlite3.IntegrityError | sqlite3.DataError | IntegrityError):
            return True
        name, module = type(err).__name__, type(err).__module__
        if module.startswith(("asyncpg", "asyncmy", "pymysql")) and (
            "Integrity" in name or "DataError" in name or "Violation" in name
            or name in ("StringDataRightTruncationError", "NumericValueOutOfRangeError")
        ):
            return True
    return False


class Writer:
    """Operations waiting to be written, and the task that writes them."""

    def __init__(self, db: Database, continuous: bool = True) -> None:
        self.db = db
        self.continuous = continuous
        self.pending: list[Op] = []
        self._takes: dict[str, Take] = {}  # unwritten takes by request id (BATCH_UPDATE_ENABLED)
        self._writing: list[Op] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._failing_since = 0.0
        self._reported = 0.0
        self._suppressed = 0
        self.failures = 0  # operations recorded in ledger_failures since start (a metric)
        self.deltas: dict[tuple[str, int], int] | None = None  # pending quota changes, when tracked
        self.on_written: Callable[[str, int, int], None] | None = None  # (table, id, quota delta)
        self.on_closed: Callable[[str], None] | None = None  # (request id) a hold's end is written

    def __len__(self) -> int:
        return len(self.pending)

    def quiet(self) -> asyncio.Lock:
        """Held while a write runs: readers of balances take it to see no half-written write."""
        return self._lock

    @property
    def overloaded(self) -> bool:
        return len(self.pending) >= MAX_PENDING

    # -- queueing ---------------------------------------------------------------------

    def submit(self, op: Op) -> None:
        """Queue ``op`` (no await: a caller cannot be cancelled half-way through)."""
        hold = op.hold if isinstance(op, Settle | Release) else None
        if hold is not None and (take := self._takes.pop(hold.request_id, None)) is not None:
            # Its take was never written (takes of a write under way are no longer listed):
            # neither needs the hold row.
            self.pending.remove(take)
            self._account(take, -1)
            hold.written = False
            if isinstance(op, Release):
                if self.on_closed is not None:
                    self.on_closed(hold.request_id)
                return
        if isinstance(op, Take) and not op.checked:
            self._takes[op.hold.request_id] = op
        self.pending.append(op)
        self._account(op, 1)
        self._kick()

    def take_now(self, take: Take) -> asyncio.Future[str]:
        """Queue a checked take and write it as soon as possible; the future says its outcome."""
        take.future = asyncio.get_running_loop().create_future()
        if not self._lock.locked() and not self._writing and self._write_here([take]):
            return take.future  # written alone: settlements stay with the writer, off this request's path
        self.pending.append(take)
        self._wake.set()
        self._kick(urgent=True)
        return take.future

    def abandon(self, take: Take, release: Callable[[], None]) -> None:
        """The request waiting for ``take`` is gone: drop it if unwritten, else ``release`` its hold."""
        if take in self.pending:
            self.pending.remove(take)
            if take.future is not None and not take.future.done():
                take.future.cancel()
            return

        def after(future: asyncio.Future[str]) -> None:
            if not future.cancelled() and future.exception() is None and future.result() == "ok":
                release()

        if take.future is not None:
            take.future.add_done_callback(after)

    def _account(self, op: Op, sign: int) -> None:
        """Track the net quota change ``op`` will make to token and user rows (BATCH_UPDATE_ENABLED)."""
        if self.deltas is None:
            return
        for key, delta in _quota_changes(op):
            self.deltas[key] = self.deltas.get(key, 0) + sign * delta

    def unwritten(self, table: str, row_id: int) -> int:
        """The net quota change pending for a ``tokens`` or ``users`` row (not yet in the DB)."""
        return 0 if self.deltas is None else self.deltas.get((table, row_id), 0)

    def _kick(self, urgent: bool = False) -> None:
        if (self.continuous or urgent) and (self._drainer is None or self._drainer.done()):
            # A context of its own: the writer must not join a transaction open where it was kicked.
            self._drainer = asyncio.get_running_loop().create_task(self._drain(), context=contextvars.Context())

    async def _drain(self) -> None:
        delay = BACKOFF[0]
        while self.pending:
            if not any(isinstance(op, Take) and op.checked for op in self.pending):
                self._wake.clear()  # settlements only: let others join for a moment, or a take
                try:
                    async with asyncio.timeout(SETTLE_DELAY):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            if await self.flush():
                delay = BACKOFF[0]
            else:
                await asyncio.sleep(delay)  # the database is failing: retry, do not spin
                delay = min(delay * 2, BACKOFF[1])

    # -- writing ----------------------------------------------------------------------

    async def flush(self) -> bool:
        """Write everything pending; False if the database failed (what failed is kept).

        Shielded: a cancelled caller does not cut a write short, and the next flush waits for
        it (the write holds the lock, not its caller)."""
        return await asyncio.shield(asyncio.ensure_future(self._flush_locked()))

    async def _flush_locked(self) -> bool:
        async with self._lock:
            ops, self.pending = self.pending, []
            if not ops:
                return True
            self._writing = ops
            for op in ops:
                if isinstance(op, Take):
                    self._takes.pop(op.hold.request_id, None)
            try:
                return await self._write(ops)
            finally:
                self._writing = []

    async def _write(self, ops: list[Op]) -> bool:
        """Write ``ops``, narrowing a data failure down to the operation that causes it."""
        try:
            try:
                await self._write_once(ops)
            except NotCommitted as exc:
                if permanent(exc):
                    raise
                await self._write_once(ops)  # a connection cut before COMMIT: once more on another
        except Exception as exc:
            if not permanent(exc):
                self._transient(ops, exc)
                return False
            if len(ops) > 1:
                half = len(ops) // 2
                first = await self._write(ops[:half])
                return await self._write(ops[half:]) and first
            return await self._write(self._dead_letter(ops[0], exc))
        self._written(ops)
        return True

    async def _write_once(self, ops: list[Op]) -> None:
        if self.db.writes_here:
            if await self._here_patiently(ops):
                return
            if await self.db.sqlite_in_thread(write_sqlite, ops) is not None:
                return
        await write_async(self.db, ops)

    async def _here_patiently(self, ops: list[Op]) -> bool:
        """On the event loop's connection, retried while another connection (another worker
        process, mostly) holds SQLite's write lock, for at most ``LOCKED_PATIENCE``: the
        database thread would wait in SQLite's busy handler and then for the GIL."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCKED_PATIENCE
        while True:
            try:
                if self.db.sqlite_here(write_sqlite, ops) is not None:
                    return True
                return False
            except sqlite3.OperationalError as exc:
                if not _locked(exc):
                    raise
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(LOCKED_RETRY)

    def _write_here(self, ops: list[Op]) -> bool:
        """One try on the event loop's own SQLite connection; False if that cannot be done now."""
        try:
            if self.db.sqlite_here(write_sqlite, ops) is None:
                return False
        except sqlite3.OperationalError as exc:
            if _locked(exc):
                return False
            self._transient(ops, exc)
            return True
        except Exception:
            return False  # the writer narrows it down
        self._written(ops)
        return True

    def _written(self, ops: list[Op]) -> None:
        if self._failing_since:
            log.warning("ledger writes succeed again after %.1f s", time.monotonic() - self._failing_since)
            self._failing_since = 0.0
        for op in ops:
            if isinstance(op, Take):
                op.hold.written = op.outcome == "ok"
                self._takes.pop(op.hold.request_id, None)
                if op.future is not None and not op.future.done():
                    op.future.set_result(op.outcome)
            self._account(op, -1)
            closed = _closing_id(op)
            if closed and self.on_closed is not None:
                self.on_closed(closed)
            if self.on_written is not None:
                for (table, row_id), delta in _quota_changes(op):
                    if delta:
                        self.on_written(table, row_id, delta)

    def _transient(self, ops: list[Op], exc: Exception) -> None:
        """Keep ``ops`` for the next try; a waiting take fails now (its request is not charged)."""
        now = time.monotonic()
        self._failing_since = self._failing_since or now
        if now - self._reported >= REPORT_EVERY:
            extra = f" ({self._suppressed} more failures since the last report)" if self._suppressed else ""
            log.error("ledger write failed; %d operations are kept and retried%s: %s", len(ops), extra, exc)
            self._reported, self._suppressed = now, 0
        else:
            self._suppressed += 1
        self.db.disk_trouble(exc)
        kept: list[Op] = []
        # a lost reply: the commit may have happened (never on SQLite, never before the COMMIT)
        doubt = not self.db.writes_here and not isinstance(exc, NotCommitted)
        for op in ops:
            if isinstance(op, Take) and op.checked:
                if op.future is not None and not op.future.done():
                    op.future.set_exception(LedgerUnavailable(str(exc)))
                if doubt:  # it may have been written: give it back if so
                    op.hold.written = None
                    kept.append(Release(op.hold, maybe_done=True))
                continue
            if doubt and not isinstance(op, Take):
                op.maybe_done = True
            if isinstance(op, Take):  # unchecked: it may have been written
                if doubt:
                    op.hold.written = None
                else:
                    self._takes[op.hold.request_id] = op
            kept.append(op)
        self.pending = kept + self.pending
        self._kick()

    def _dead_letter(self, op: Op, exc: Exception) -> list[Op]:
        """Record ``op`` as failed; a take's request is told at once."""
        self.failures += 1
        log.error("ledger: %s of request %s cannot be written and is recorded in ledger_failures: %s",
                  type(op).__name__.lower(), _request_id(op), exc)
        if isinstance(op, Take) and op.future is not None and not op.future.done():
            op.future.set_exception(LedgerUnavailable(str(exc)))
        self._account(op, -1)
        if isinstance(op, Failed):  # even the record failed: nothing more can be done here
            log.critical("ledger: the failure of request %s could not be recorded", _request_id(op))
            return []
        return [Failed(op, f"{type(exc).__name__}: {exc}")]

    async def aclose(self, patience: float = 10.0) -> None:
        """Stop the continuous writer and write what is pending, trying for ``patience`` seconds;
        what is still unwritten then stays as holds for the reconciler."""
        if self._drainer is not None and not self._drainer.done():
            self._drainer.cancel()
            await asyncio.gather(self._drainer, return_exceptions=True)
        deadline = time.monotonic() + patience
        while not await self.flush() and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
        if self.pending:
            log.error("shutdown: %d ledger operations could not be written; their holds are released "
                      "by the reconciler at the next start", len(self.pending))


def _locked(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _closing_id(op: Op) -> str:
    """The request id of the hold that ``op`` ends, if it ends one."""
    if isinstance(op, Failed):
        op = op.op
    return op.hold.request_id if isinstance(op, Settle | Release) else ""


def _request_id(op: Op) -> str:
    if isinstance(op, Failed):
        op = op.op
    return op.request_id if isinstance(op, Credit) else op.hold.request_id


def _quota_changes(op: Op) -> list[tuple[tuple[str, int], int]]:
    """(row, net change of its remaining quota) that ``op`` makes, its hold assumed written."""
    if isinstance(op, Take):
        hold = op.hold
        sign = -1
    elif isinstance(op, Release):
        hold, sign = op.hold, 1
        if hold.written is False:
            return []
    elif isinstance(op, Settle):
        hold = op.hold
        held = hold.amount if hold.written is not False else 0
        token_held = hold.token_amount if hold.written is not False else 0
        changes = [(("users", hold.user_id), held - op.charge)]
        if hold.token_limited:
            changes.append((("tokens", hold.token_id), token_held - op.charge))
        return changes
    else:
        return []
    changes = [(("users", hold.user_id), sign * hold.amount)]
    if hold.token_limited:
        changes.append((("tokens", hold.token_id), sign * hold.token_amount))
    return changes
