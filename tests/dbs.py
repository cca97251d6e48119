"""Fresh PostgreSQL and MariaDB databases on 127.0.0.1 for one test session, and an in-process
SQLite ``Database`` for tests of the core's database code."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _mysql(sql: str) -> None:
    import asyncmy

    conn = await asyncmy.connect(host="127.0.0.1", port=3306, user="root", password="")
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new PostgreSQL database; yields its SQL_DSN and drops it afterwards."""
    name = f"oneapi_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def mariadb_database() -> Iterator[str]:
    """A new MariaDB database; yields its SQL_DSN in One API's form and drops it afterwards."""
    name = f"oneapi_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_mysql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield f"root:@tcp(127.0.0.1:3306)/{name}?charset=utf8mb4&parseTime=True"
    finally:
        asyncio.run(_mysql(f"DROP DATABASE IF EXISTS `{name}`"))


@asynccontextmanager
async def sqlite_database(path: Path, **settings: Any) -> AsyncIterator[Any]:
    """The gateway's ``Database`` on a new SQLite file, schema created; closed afterwards."""
    from oneapi.db import Database
    from oneapi.settings import Settings

    db = Database(Settings(SQLITE_PATH=str(path), **settings))
    await db.connect()
    try:
        await db.migrate()
        yield db
    finally:
        await db.close()
