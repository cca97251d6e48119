"""Connect from SQL_DSN, apply the schema's migrations, keep abilities in sync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import connections
from tortoise.connection import get_connections as connections_var
from tortoise.exceptions import IntegrityError

from . import models, schema
from .settings import Settings

__all__ = ["Database", "database_unavailable", "dsn_to_url", "transaction", "write_transaction"]

T = TypeVar("T")

log = logging.getLogger("oneapi.db")

_GO_MYSQL = re.compile(r"^(?P<auth>[^@]*)@tcp\((?P<host>[^)]*)\)/(?P<db>[^?]*)(?:\?(?P<q>.*))?$")
_MYSQL_PASS_PARAMS = {"charset"}
# Per process: PostgreSQL's and MySQL's default max_connections (100-151) must fit several nodes.
MAX_POOL = 30
WAL_RESTART_PAGES = 1000  # a write-ahead log this long (about 4 MB) is started over at the next checkpoint


def dsn_to_url(settings: Settings) -> str:
    """Turn SQL_DSN (One API's forms included) into a tortoise database URL."""
    dsn = settings.SQL_DSN
    if not dsn:
        path = os.path.abspath(settings.SQLITE_PATH)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # WAL with synchronous=NORMAL: durable against crashes of the process, one fsync per checkpoint.
        return f"sqlite://{path}?journal_mode=WAL&synchronous=NORMAL&busy_timeout={settings.SQLITE_BUSY_TIMEOUT}"
    pool = f"minsize=1&maxsize={min(settings.SQL_MAX_OPEN_CONNS, MAX_POOL)}"
    lifetime = settings.SQL_CONN_MAX_LIFETIME
    if dsn.startswith(("postgres://", "postgresql://")):
        rest = dsn.split("://", 1)[1]
        sep = "&" if "?" in rest else "?"
        return f"postgres://{rest}{sep}{pool}&max_inactive_connection_lifetime={lifetime}"
    pool += f"&pool_recycle={lifetime}"
    if dsn.startswith("mysql://"):
        sep = "&" if "?" in dsn else "?"
        return f"{dsn}{sep}{pool}"
    match = _GO_MYSQL.match(dsn)
    if not match:
        raise ValueError("SQL_DSN: expected postgres://..., mysql://... or user:pass@tcp(host:port)/db")
    user, _, password = match["auth"].partition(":")
    params = [p for p in (match["q"] or "").split("&") if p.split("=")[0] in _MYSQL_PASS_PARAMS]
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    query = "&".join([*params, pool])
    return f"mysql://{auth}@{match['host']}/{match['db']}?{query}"


_TAKE_WRITE_LOCK = "UPDATE options SET value = value WHERE 0"  # writes nothing, locks at once


_LOST_MYSQL = {2002, 2003, 2006, 2013, 2055}  # can't connect, server gone, lost connection


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception behind it (causes, contexts, wrapped in its arguments): the
    ORM wraps the driver's errors."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        todo += [err.__cause__, err.__context__, *(a for a in err.args if isinstance(a, BaseException))]


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database could not be reached or written
    now (connection lost or refused, SQLite locked or its disk full), rather than a bug."""
    from tortoise.exceptions import DBConnectionError

    for err in causes(exc):
        if isinstance(err, DBConnectionError | ConnectionError | TimeoutError):
            return True
        if isinstance(err, sqlite3.OperationalError) and any(
                word in str(err) for word in ("locked", "busy", "full", "disk I/O")):
            return True
        name, module = type(err).__name__, type(err).__module__
        if module.startswith("asyncpg") and ("Connection" in name or name == "InterfaceError"):
            return True
        if module.startswith(("asyncmy", "pymysql")) and err.args and err.args[0] in _LOST_MYSQL:
            return True
    return False


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """tortoise's ``in_transaction()``, except that a BEGIN that fails (the connection was cut)
    gives its pooled connection back: tortoise keeps it, and with each such cut the pool shrinks
    (asyncmy's close then waits for it forever)."""
    context = connections.get("default")._in_transaction()
    try:
        conn = await context.__aenter__()
    except BaseException:
        await _give_back(context)
        raise
    try:
        yield conn
    except BaseException as exc:
        await context.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    await context.__aexit__(None, None, None)


async def _give_back(context: Any) -> None:
    """Undo what a pooled transaction context did before its BEGIN failed."""
    token = getattr(context, "token", None)
    if token is not None:
        connections_var().reset(token)
    client = getattr(context, "client", None)
    raw = getattr(client, "_connection", None)
    pool = getattr(getattr(client, "_parent", None), "_pool", None)
    if raw is None or pool is None:
        return
    with contextlib.suppress(Exception):
        raw.close()  # broken anyway; the pool drops a closed connection when it is released
    with contextlib.suppress(Exception):
        released = pool.release(raw)
        if asyncio.iscoroutine(released) or isinstance(released, asyncio.Future):
            await released


@contextlib.asynccontextmanager
async def write_transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """An ORM transaction that reads and then writes. On SQLite it holds the write lock from its
    start: a plain (deferred) one fails at its first write, without waiting, when another
    connection (another worker process) committed after it read."""
    async with transaction() as conn:
        if conn.capabilities.dialect == "sqlite":
            await conn.execute_query(_TAKE_WRITE_LOCK)
        yield conn


class Database:
    """The gateway's database: connection, migrations and dialect-aware raw SQL."""

    def __init__(self, settings: Settings, apps: list[schema.ModelApp] | None = None) -> None:
        """``apps``: the tortoise apps (the core's and the plugins'); by default those of the
        plugins ``settings`` load."""
        self.settings = settings
        self.apps = apps if apps is not None else schema.apps_for(settings)
        self.url = dsn_to_url(settings)
        self.sqlite_path = None if settings.SQL_DSN else os.path.abspath(settings.SQLITE_PATH)
        self._here: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None  # used by one to_thread call at a time
        self._checkpointing: asyncio.Future[tuple[int, int, int]] | None = None
        self._orm: BaseDBAsyncClient | None = None  # the ORM's own client, not a transaction's
        self._disk_full = False  # a write failed for want of space: the next checkpoint truncates the log
        self.dialect = "sqlite"
        self.statements = 0
        self._translated: dict[str, str] = {}

    @property
    def writes_here(self) -> bool:
        """Whether ``sqlite_here`` runs (an SQLite file), rather than answering None."""
        return self.sqlite_path is not None and self.dialect == "sqlite"

    @property
    def conn(self) -> BaseDBAsyncClient:
        return Tortoise.get_connection("default")

    async def connect(self) -> None:
        if self.sqlite_path is not None:
            private_sqlite_files(self.sqlite_path)
        await Tortoise.init(config=schema.tortoise_config(self.url, self.apps), _enable_global_fallback=True)
        self._orm = self.conn
        self.dialect = self.conn.capabilities.dialect
        self._translated.clear()
        if self.settings.ONEAPI_DB_STATS:
            self._count_statements()

    def _count_statements(self) -> None:
        """Count every statement sent through the main connection (for the benchmark)."""
        conn = self.conn
        for name in ("execute_insert", "execute_many", "execute_query", "execute_query_dict", "execute_script"):
            original = getattr(conn, name)

            def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
                self.statements += 1
                return _original(*args, **kwargs)

            setattr(conn, name, counted)

    async def close(self) -> None:
        if self._here is not None:
            self._here.close()
            self._here = None
        if self._checkpointing is not None:  # its thread runs on even when the job was cancelled
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        await Tortoise.close_connections()

    async def checkpoint(self) -> tuple[int, int, int] | None:
        """Copy the SQLite write-ahead log into the database file, in a thread of its own and
        without blocking writers (PASSIVE): the event loop's connection never checkpoints
        itself, as the fsync would stall every request. (busy, log pages, checkpointed pages),
        or None where ``sqlite_here`` does not run."""
        if not self.writes_here:
            return None
        self._checkpointing = asyncio.ensure_future(asyncio.to_thread(self._checkpoint_now))
        return await asyncio.shield(self._checkpointing)

    def _checkpoint_now(self) -> tuple[int, int, int]:
        conn = self._checkpointer
        if conn is None:
            conn = sqlite3.connect(self.sqlite_path or "", isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 2000")  # RESTART and TRUNCATE wait for the writer
            self._checkpointer = conn
        busy, log_pages, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        # Under a steady load a passive checkpoint never catches up with the last write, so the
        # log is never reused from its start and grows without end: past a size, or after the
        # disk was full, checkpoint so the next write starts the log over (TRUNCATE also gives
        # its space back), briefly holding writers off.
        if self._disk_full or log_pages >= WAL_RESTART_PAGES:
            mode = "TRUNCATE" if self._disk_full else "RESTART"
            busy, log_pages, done = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            if not busy:
                self._disk_full = False
        return int(busy), int(log_pages), int(done)

    def disk_trouble(self, exc: BaseException) -> None:
        """Note a write that failed for want of space (SQLite): the WAL is truncated when it can be."""
        text = str(exc).lower()
        if "full" in text or "disk i/o" in text:
            self._disk_full = True

    def sql(self, text: str) -> str:
        """Rewrite ``?`` placeholders and double-quoted names for this dialect (memoized)."""
        cached = self._translated.get(text)
        if cached is None:
            cached = self._translated[text] = self._translate(text)
        return cached

    def _translate(self, text: str) -> str:
        if self.dialect == "postgres":
            count = 0

            def number(_: re.Match[str]) -> str:
                nonlocal count
                count += 1
                return f"${count}"

            return re.sub(r"\?", number, text)
        if self.dialect == "mysql":
            return text.replace("?", "%s").replace('"', "`")
        return text

    async def execute(self, text: str, values: list[Any] | None = None) -> int:
        rows, _ = await self.conn.execute_query(self.sql(text), values or [])
        return int(rows or 0)

    async def sqlite_in_thread(self, fn: Callable[..., T], *args: Any) -> T | None:
        """Run ``fn(sqlite3_connection, *args)`` in SQLite's own thread, holding the connection:
        several statements for the price of one hop. None where that is not possible."""
        if self.dialect != "sqlite":
            return None
        async with self.conn.acquire_connection() as connection:  # tortoise's connection lock
            run = getattr(connection, "_execute", None)
            raw = getattr(connection, "_conn", None)
            if run is None or raw is None:
                return None
            self.statements += 1  # one round trip, however many statements
            return await run(fn, raw, *args)  # type: ignore[no-any-return]

    def sqlite_here(self, fn: Callable[..., T], *args: Any) -> T | None:
        """Run ``fn(sqlite3_connection, *args)`` right here, on a connection of this thread's own
        that never waits for SQLite's write lock: a short write costs microseconds, a hop into
        the database thread (and back, under a busy event loop) milliseconds. Raises
        ``sqlite3.OperationalError`` ("database is locked") while another connection writes;
        the caller then tries again shortly or takes ``sqlite_in_thread``. None where the database is not SQLite."""
        if not self.writes_here:
            return None
        # While the ORM's connection is busy (maybe in a deferred transaction that has read and
        # will write), a commit here would make its write fail at once (SQLITE_BUSY_SNAPSHOT).
        busy = getattr(self._orm, "_lock", None)
        if busy is None or busy.locked():
            raise sqlite3.OperationalError("database is locked (the ORM's connection is in use)")
        conn = self._here
        if conn is None:
            assert self.sqlite_path is not None
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 0")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # a checkpoint fsyncs: see checkpoint()
            self._here = conn
        self.statements += 1  # one round trip, however many statements
        return fn(conn, *args)

    async def execute_many(self, text: str, rows: list[list[Any]]) -> None:
        await self.conn.execute_many(self.sql(text), rows)

    async def fetch(self, text: str, values: list[Any] | None = None) -> list[dict[str, Any]]:
        return [dict(r) for r in await self.conn.execute_query_dict(self.sql(text), values or [])]

    async def migrate(self) -> list[schema.Step]:
        """Apply every pending migration of the core and the plugins (the master's start-up,
        ``oneapi migrate``); return what was applied."""
        return await schema.migrate(self.conn, self.url, self.apps)

    async def pending_migrations(self) -> list[str]:
        """Migrations not applied yet (``app.name``)."""
        return await schema.pending(self.conn, self.url, self.apps)

    async def ensure_root(self) -> None:
        """Create root/123456 on first start, as One API does."""
        from .passwords import hash_password

        if await models.User.exists():
            return
        try:
            root = await models.User.create(
                username="root",
                password=hash_password("123456"),
                display_name="Root User",
                role=models.ROLE_ROOT,
                quota=500_000_000_000_000,
                access_token=self.settings.INITIAL_ROOT_ACCESS_TOKEN or None,
            )
        except IntegrityError:
            return  # another worker process created it first
        if self.settings.INITIAL_ROOT_TOKEN:
            await models.Token.create(
                user_id=root.id,
                key=self.settings.INITIAL_ROOT_TOKEN.removeprefix("sk-"),
                name="Initial Root Token",
                unlimited_quota=True,
                created_time=int(time.time()),
            )
        log.warning("created the root user with password 123456: CHANGE IT NOW")

    async def sync_abilities(self, channel: models.Channel) -> None:
        """Rewrite the abilities rows of one channel from its groups and models, in one
        transaction: relays never see the channel without its rows."""
        rows = [
            [group, model, channel.id, channel.status == models.CHANNEL_ENABLED, channel.priority or 0]
            for group in split_list(channel.group)
            for model in split_list(channel.models)
        ]
        async with write_transaction() as conn:
            await conn.execute_query(self.sql("DELETE FROM abilities WHERE channel_id = ?"), [channel.id])
            for row in {(r[0], r[1]): r for r in rows}.values():
                await conn.execute_query(self.sql(
                    'INSERT INTO abilities ("group", model, channel_id, enabled, priority) VALUES (?, ?, ?, ?, ?)'),
                    row)

    async def delete_abilities(self, channel_id: int) -> None:
        await self.execute("DELETE FROM abilities WHERE channel_id = ?", [channel_id])


def private_sqlite_files(path: str) -> None:
    """Create the SQLite file readable by its owner alone (0600) before SQLite opens it, and
    make an existing one (left 0644 by an older version, say) so: it holds password hashes,
    tokens and keys. SQLite gives its -wal and -shm files the database file's mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    for name in (path, f"{path}-wal", f"{path}-shm", f"{path}-journal"):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
                log.info("%s was readable by others (%o): now %o", name, mode, mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change: say so, the gateway still runs
            log.warning("could not make %s private (chmod 600): %s", name, exc)


def split_list(value: str | None) -> list[str]:
    """A comma list as One API stores it, trimmed, without empties or repeats."""
    seen: dict[str, None] = {}
    for item in (value or "").split(","):
        item = item.strip()
        if item:
            seen[item] = None
    return list(seen)

