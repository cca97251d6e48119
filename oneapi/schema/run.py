"""Apply the pending migrations of the core and every loaded plugin, one process at a time."""

from __future__ import annotations

import copy
import logging
from typing import NamedTuple

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.migrations.executor import MigrationExecutor, MigrationTarget
from tortoise.migrations.recorder import MigrationRecorder
from tortoise.migrations.schema_editor.base import BaseSchemaEditor

from . import introspect
from .adopt import adopt_existing
from .apps import ModelApp, tortoise_config
from .lock import migration_lock

__all__ = ["Step", "migrate", "pending"]

log = logging.getLogger("oneapi.schema")


class Step(NamedTuple):
    """A migration this run recorded: ``adopted`` when existing tables stood in for running it."""

    app: str
    name: str
    adopted: bool = False

    def __str__(self) -> str:
        return f"{self.app}.{self.name}" + (" (adopted existing tables)" if self.adopted else "")


class _Recorder(MigrationRecorder):
    """tortoise's record of applied migrations (table ``tortoise_migrations``: app, name,
    applied_at), created only where missing: MySQL logs a warning for each CREATE TABLE IF
    NOT EXISTS of a table it has."""

    async def ensure_schema(self, schema_editor: BaseSchemaEditor) -> None:
        if self.table_name not in await introspect.tables(self.connection):
            await super().ensure_schema(schema_editor)


def _without_operation_transactions(conn: BaseDBAsyncClient) -> BaseDBAsyncClient:
    """``conn``, except where DDL cannot be rolled back (MySQL): there a copy that tortoise does
    not wrap each operation of in a transaction. DDL commits at once there anyway, and tortoise
    runs the operation on another pooled connection than the transaction's: with a pool of one
    (SQL_MAX_OPEN_CONNS=1) it would wait forever."""
    caps = conn.capabilities
    if caps.can_rollback_ddl or not caps.supports_transactions:
        return conn
    client = copy.copy(conn)
    client.capabilities = copy.copy(caps)
    client.capabilities.__dict__["supports_transactions"] = False  # as tortoise does for MyISAM
    return client


def _executor(conn: BaseDBAsyncClient, url: str, apps: list[ModelApp]) -> MigrationExecutor:
    conn = _without_operation_transactions(conn)
    executor = MigrationExecutor(conn, tortoise_config(url, apps)["apps"])
    executor.recorder = executor.loader.recorder = _Recorder(conn)
    return executor


async def migrate(conn: BaseDBAsyncClient, url: str, apps: list[ModelApp]) -> list[Step]:
    """Bring the database at ``url`` (reached through ``conn``) up to the last migration of
    each app, recording each in ``tortoise_migrations``; return what was recorded (nothing
    when it was up to date). Tables made without migrations are adopted first."""
    steps: list[Step] = []

    def progress(event: str, app: str, name: str) -> None:
        if event == "apply_done":
            log.info("applied migration %s.%s", app, name)
            steps.append(Step(app, name))

    async with migration_lock(url):  # the next process in finds everything applied
        executor = _executor(conn, url, apps)
        await executor.loader.build_graph()
        await executor.recorder.ensure_schema(executor._schema_editor(atomic=False))
        steps += [Step(key.app_label, key.name, adopted=True) for key in await adopt_existing(executor)]
        in_order = [MigrationTarget(app.label, "__latest__") for app in apps]  # the core's first
        await executor.migrate(in_order, direction="forward", progress=progress)
    return steps


async def pending(conn: BaseDBAsyncClient, url: str, apps: list[ModelApp]) -> list[str]:
    """The migrations not applied yet, as ``app.name``."""
    plan = await _executor(conn, url, apps).plan()
    return [f"{step.migration.app_label}.{step.migration.name}" for step in plan]
