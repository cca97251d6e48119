"""One migrating process at a time per database: worker processes and master nodes all start
by migrating."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from typing import Any

from tortoise.backends.base.config_generator import expand_db_url

__all__ = ["migration_lock"]

LOCK_NAME = "oneapi_migrate"
PG_LOCK_KEY = 0x6F6E65617069  # any constant every node shares ("oneapi" in hex)
WAIT_SECONDS = 600  # a migration of a big table may take long; a dead holder's lock dies with it


@contextlib.asynccontextmanager
async def migration_lock(url: str) -> AsyncIterator[None]:
    """Hold the migration lock of the database at ``url`` (a tortoise URL): a lock file next to
    an SQLite file, an advisory lock on PostgreSQL, a named lock on MySQL. The lock lives on a
    connection of its own, so a pool of one connection can still migrate."""
    config = expand_db_url(url)
    engine, creds = config["engine"], config["credentials"]
    if engine.endswith("sqlite"):
        async with _file_lock(creds.get("file_path", ":memory:")):
            yield
    elif engine.endswith("asyncpg"):
        async with _pg_lock(creds):
            yield
    elif engine.endswith("mysql"):
        async with _mysql_lock(creds):
            yield
    else:
        yield


@contextlib.asynccontextmanager
async def _file_lock(path: str) -> AsyncIterator[None]:
    if path == ":memory:":  # no other process sees it
        yield
        return
    # Not the database file itself: closing any descriptor of it drops SQLite's own locks.
    with open(path + "-migrate.lock", "a") as handle:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.asynccontextmanager
async def _pg_lock(creds: dict[str, Any]) -> AsyncIterator[None]:
    import asyncpg

    conn = await asyncpg.connect(host=creds.get("host"), port=creds.get("port"), user=creds.get("user"),
                                 password=creds.get("password"), database=creds.get("database"))
    try:
        await asyncio.wait_for(conn.execute("SELECT pg_advisory_lock($1)", PG_LOCK_KEY), WAIT_SECONDS)
        yield  # closing the connection releases the lock
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _mysql_lock(creds: dict[str, Any]) -> AsyncIterator[None]:
    import asyncmy

    conn = await asyncmy.connect(host=creds.get("host"), port=creds.get("port"), user=creds.get("user"),
                                 password=creds.get("password") or "", db=creds.get("database"))
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT GET_LOCK(%s, %s)", (LOCK_NAME, WAIT_SECONDS))
            (got,) = await cur.fetchone()
        if got != 1:
            raise TimeoutError(f"another process held the migration lock for {WAIT_SECONDS} s")
        yield  # closing the connection releases the lock
    finally:
        conn.close()
