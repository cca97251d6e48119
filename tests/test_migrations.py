"""Schema migrations (``oneapi/schema``): a new database is migrated and its versions recorded
on SQLite, PostgreSQL and MariaDB; ``oneapi migrate`` twice, or from several processes at once,
applies each migration once; a database made before migrations (by this gateway's
``generate_schemas``) is adopted; plugin tables come and go with the plugin; a migration adding
an index creates it; a slave node does not migrate."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pkgutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget

from oneapi import hookspecs, models
from oneapi.db import Database
from oneapi.registry import StartupError
from oneapi.schema import CORE_APP, ModelApp, collect_apps, introspect, tortoise_config
from oneapi.settings import Settings
from tests.dbs import mariadb_database, postgres_database

pytestmark = pytest.mark.timeout(120)

KINDS = ["sqlite", "postgres", "mariadb"]
NOTES = ModelApp("schema_test", "tests.schema_app.models", "tests.schema_app.migrations")
ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def new_database(kind: str) -> Iterator[str]:
    """SQL_DSN of a new empty database of this kind ("" for SQLite: a file per test)."""
    if kind == "sqlite":
        yield ""
    else:
        with (postgres_database() if kind == "postgres" else mariadb_database()) as dsn:
            yield dsn


@pytest.fixture(params=KINDS)
def dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    with new_database(request.param) as value:
        yield value


@contextlib.asynccontextmanager
async def opened(dsn: str, tmp_path: Path, apps: list[ModelApp] | None = None,
                 **settings: Any) -> AsyncIterator[Database]:
    """The gateway's Database on ``dsn`` (or an SQLite file in ``tmp_path``), not migrated."""
    EXECUTOR_CACHE.clear()  # tortoise caches SQL per connection name, whatever the dialect
    db = Database(Settings(SQL_DSN=dsn, SQLITE_PATH=str(tmp_path / "one-api.db"), **settings), apps)
    await db.connect()
    try:
        yield db
    finally:
        await db.close()
        EXECUTOR_CACHE.clear()


def on_disk(apps: list[ModelApp]) -> list[str]:
    """Every migration of these apps, ``app.name``, in the order a new database gets them."""
    found = []
    for app in apps:
        package = __import__(app.migrations, fromlist=["_"])
        found += [f"{app.label}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if m.name[0] != "_"]
    return found


async def recorded(db: Database) -> list[str]:
    rows = await db.fetch('SELECT app, name FROM tortoise_migrations ORDER BY id')
    return [f"{r['app']}.{r['name']}" for r in rows]


async def test_new_database_is_migrated_and_versions_recorded(dsn: str, tmp_path: Path) -> None:
    async with opened(dsn, tmp_path) as db:
        everything = on_disk(db.apps)
        assert "models.0002_abilities" in everything and "midjourney.0001_initial" in everything
        assert [str(step) for step in await db.migrate()] == everything
        assert await recorded(db) == everything
        tables = await introspect.tables(db.conn)
        assert {"users", "tokens", "channels", "abilities", "logs", "quota_holds", "midjourneys"} <= tables
        assert await db.migrate() == [] and await db.pending_migrations() == []
        assert await recorded(db) == everything


async def test_a_pool_of_one_connection_migrates(dsn: str, tmp_path: Path) -> None:
    """SQL_MAX_OPEN_CONNS=1: the lock has a connection of its own, and no migration waits for a
    second pooled one (tortoise's per-operation transactions on MySQL did)."""
    async with opened(dsn, tmp_path, SQL_MAX_OPEN_CONNS=1) as db, asyncio.timeout(30):
        assert [str(step) for step in await db.migrate()] == on_disk(db.apps)


def oneapi_migrate(dsn: str, tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    """``oneapi migrate`` in a process of its own."""
    environ = {**os.environ, "SQL_DSN": dsn, "SQLITE_PATH": str(tmp_path / "one-api.db"), **env}
    return subprocess.Popen([sys.executable, "-m", "oneapi", "migrate"], env=environ, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    return out


def test_oneapi_migrate_twice_is_a_no_op(dsn: str, tmp_path: Path) -> None:
    first = finished(oneapi_migrate(dsn, tmp_path))
    assert "applied models.0001_initial" in first and "applied midjourney.0001_initial" in first
    second = finished(oneapi_migrate(dsn, tmp_path))
    assert "nothing to migrate: the database is up to date" in second and "applied" not in second


async def test_several_processes_migrate_once(dsn: str, tmp_path: Path) -> None:
    outputs = [finished(p) for p in [oneapi_migrate(dsn, tmp_path) for _ in range(3)]]
    assert sum("applied models.0001_initial" in out for out in outputs) == 1, outputs
    async with opened(dsn, tmp_path) as db:
        assert await recorded(db) == on_disk(db.apps)  # each once: no process ran one again


async def test_plugin_tables_only_with_the_plugin(tmp_path: Path) -> None:
    async with opened("", tmp_path, ONEAPI_DISABLED_PLUGINS="midjourney") as db:
        assert [app.label for app in db.apps] == ["models"]
        await db.migrate()
        assert "midjourneys" not in await introspect.tables(db.conn)
        assert all(name.startswith("models.") for name in await recorded(db))
    async with opened("", tmp_path) as db:
        assert [str(step) for step in await db.migrate()] == on_disk(db.apps[1:])
        assert "midjourneys" in await introspect.tables(db.conn)


async def test_slave_node_does_not_migrate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from oneapi.app import create_app

    async with opened("", tmp_path, ONEAPI_DISABLED_PLUGINS="midjourney") as db:
        await db.migrate()
        await db.ensure_root()
    settings = Settings(SQLITE_PATH=str(tmp_path / "one-api.db"), NODE_TYPE="slave", SESSION_SECRET="s")
    app = create_app(settings)
    EXECUTOR_CACHE.clear()
    with caplog.at_level(logging.WARNING, logger="oneapi"):
        await app.startup()
        try:
            assert "midjourneys" not in await introspect.tables(Tortoise.get_connection("default"))
        finally:
            await app.shutdown()
    assert "not migrated yet (the master node does that): midjourney.0001_initial" in caplog.text


async def test_migration_adding_an_index_creates_it(dsn: str, tmp_path: Path) -> None:
    async with opened(dsn, tmp_path, apps=[NOTES]) as db:
        executor = MigrationExecutor(db.conn, tortoise_config(db.url, [NOTES])["apps"])
        await executor.migrate([MigrationTarget("schema_test", "0001_initial")])
        await db.execute("INSERT INTO schema_notes (title, created_at) VALUES (?, ?)", ["kept", 7])
        assert not [i for i in await introspect.indexes(db.conn, "schema_notes") if not i.unique]
        assert [str(step) for step in await db.migrate()] == ["schema_test.0002_note_title_index"]
        added = [i for i in await introspect.indexes(db.conn, "schema_notes") if not i.unique]
        assert [i.columns for i in added] == [("title", "created_at")]
        assert await db.fetch("SELECT title, created_at FROM schema_notes") == [{"title": "kept", "created_at": 7}]


async def _index_on(db: Database, table: str, column: str) -> str | None:
    for index in await introspect.indexes(db.conn, table):
        if index.columns == (column,):
            return index.name
    return None


async def test_database_made_before_migrations_is_adopted(dsn: str, tmp_path: Path) -> None:
    """As this gateway left it before migrations: tables by ``generate_schemas``, rows in them,
    newer columns, tables and indexes missing, no ``tortoise_migrations``."""
    async with opened(dsn, tmp_path) as db:
        await Tortoise.generate_schemas(safe=True)
        user = await models.User.create(username="old", password="x", quota=42)
        await models.Channel.create(key="sk", name="old channel", models="m")
        await models.Log.create(user_id=user.id, created_at=1, type=2, content="old log", quota=5)
        q = "`" if db.dialect == "mysql" else '"'
        for table, column in (("channels", "status_reason"), ("logs", "system_prompt_reset"),
                              ("midjourneys", "token_id"), ("users", "session_epoch")):
            await db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        index = await _index_on(db, "logs", "request_id")
        await db.execute(f"DROP INDEX {q}{index}{q}" + (" ON logs" if db.dialect == "mysql" else ""))
        await db.execute("DROP TABLE quota_holds")
        await db.execute("DROP TABLE ephemerals")  # what migration 0003 adds
        await db.execute("INSERT INTO midjourneys (user_id, action, mj_id, status, progress, submit_time, "
                         "start_time, finish_time, code, channel_id, quota) "
                         "VALUES (?, 'IMAGINE', 'up-1', 'SUCCESS', ?, 1, 2, 3, 1, 0, 9)", [user.id, "100%"])

        steps = [str(step) for step in await db.migrate()]
        assert steps[:1] == ["models.0001_initial (adopted existing tables)"]
        assert "midjourney.0001_initial (adopted existing tables)" in steps
        assert sorted(await recorded(db)) == sorted(on_disk(db.apps))
        assert await db.migrate() == []

        assert {"quota_holds", "ephemerals"} <= await introspect.tables(db.conn)
        assert await _index_on(db, "logs", "request_id") is not None
        log = await models.Log.get(content="old log")
        assert (log.quota, log.system_prompt_reset) == (5, False)  # the new column's default
        channel = await models.Channel.get(name="old channel")
        assert channel.status_reason == ""
        assert (await models.User.get(username="old")).quota == 42
        assert (await models.User.get(username="old")).session_epoch is None
        rows = await db.fetch("SELECT mj_id, token_id, quota FROM midjourneys")
        assert rows == [{"mj_id": "up-1", "token_id": 0, "quota": 9}]


class _Plugin:
    def __init__(self, *apps: ModelApp) -> None:
        self.apps = list(apps)

    @hookspecs.hookimpl
    def register_models(self) -> list[ModelApp]:
        return self.apps


def _manager(**plugins: _Plugin) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("oneapi")
    pm.add_hookspecs(hookspecs)
    for name, plugin in plugins.items():
        pm.register(plugin, name=name)
    return pm


def test_model_apps_are_checked_at_start_up() -> None:
    assert collect_apps(_manager(notes=_Plugin(NOTES))) == [CORE_APP, NOTES]
    with pytest.raises(StartupError, match="model app 'models' is registered by both plugin 'oneapi' and plugin 'x'"):
        collect_apps(_manager(x=_Plugin(ModelApp("models", NOTES.models, NOTES.migrations))))
    with pytest.raises(StartupError, match="table 'users' is registered by both plugin 'oneapi' and plugin 'y'"):
        collect_apps(_manager(y=_Plugin(ModelApp("mine", "oneapi.models", "oneapi.migrations"))))


@pytest.fixture(params=["postgres", "mariadb"])  # SQLite does not hold a VARCHAR to its length
def server_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    with new_database(request.param) as value:
        yield value


async def test_abilities_rewrite_is_all_or_nothing(server_dsn: str, tmp_path: Path) -> None:
    async with opened(server_dsn, tmp_path) as db:
        await db.migrate()
        channel = await models.Channel.create(key="sk", name="c", models="m1,m2", group="default")
        await db.sync_abilities(channel)
        channel.models = "m3," + "x" * 300  # the second row is too long for abilities.model
        with pytest.raises(Exception):  # noqa: B017 - the driver's own error class
            await db.sync_abilities(channel)
        rows = await db.fetch("SELECT model FROM abilities WHERE channel_id = ? ORDER BY model", [channel.id])
        assert [r["model"] for r in rows] == ["m1", "m2"]
