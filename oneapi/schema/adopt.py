"""Adopting a database whose tables were made without migrations (One API, or this gateway
before it had them): an app's first migration is recorded as applied, not run, once what it
would create exists; what is missing (tables, columns, indexes) is added first."""

from __future__ import annotations

import logging
from copy import copy
from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import UniqueConstraint
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.graph import MigrationKey
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State
from tortoise.migrations.schema_generator.state_apps import StateApps
from tortoise.models import Model
from tortoise.transactions import in_transaction

from . import introspect

__all__ = ["adopt_existing"]

log = logging.getLogger("oneapi.schema")


async def adopt_existing(executor: MigrationExecutor) -> list[MigrationKey]:
    """Record each app's baseline as applied where its tables already exist (after adding
    what they lack); return the baselines so adopted. The executor's graph must be built."""
    applied = set(await executor.recorder.applied_migrations())
    existing = await introspect.tables(executor.connection)
    adopted = []
    for label in executor.loader.apps_config:
        key = _baseline(executor, label)
        if key is None or key in applied:
            continue
        models = await _baseline_models(executor, key)
        if not any(m._meta.db_table in existing for m in models):
            continue  # a new database (or app): the baseline runs as written
        log.warning("adopting the existing tables of app %s as migration %s", label, key.name)
        editor = executor._schema_editor(atomic=True)
        if editor.atomic_migration:  # the additions and the record: all or nothing
            async with in_transaction(executor.connection.connection_name) as txn:
                editor.client = txn
                await _complete(editor, models, existing)
                await type(executor.recorder)(txn).record_applied(key.app_label, key.name)
        else:
            await _complete(editor, models, existing)
            await executor.recorder.record_applied(key.app_label, key.name)
        adopted.append(key)
    return adopted


def _baseline(executor: MigrationExecutor, label: str) -> MigrationKey | None:
    """The app's first migration (none of its parents belong to the app), if it is initial."""
    for key, node in executor.loader.graph.node_map.items():
        if key.app_label == label and not any(p.key.app_label == label for p in node.parents):
            return key if getattr(executor.loader.graph.nodes[key], "initial", False) else None
    return None


async def _baseline_models(executor: MigrationExecutor, key: MigrationKey) -> list[type[Model]]:
    """The app's models as its baseline leaves them (later migrations are not applied yet)."""
    defaults = {label: c.get("default_connection", "default") for label, c in executor.loader.apps_config.items()}
    state = State(models={}, apps=StateApps(default_connections=defaults))
    for step in executor.loader.graph.forwards_plan(key):
        node = executor.loader.graph.nodes[step]
        assert node is not None
        await node.apply(state, dry_run=True, schema_editor=None)
    return [state.apps.get_model(f"{label}.{name}") for label, name in state.models if label == key.app_label]


async def _complete(editor: BaseSchemaEditor, models: list[type[Model]], existing: set[str]) -> None:
    """Create the missing tables; add the missing columns and indexes to the others."""
    for model in models:
        table = model._meta.db_table
        if table not in existing:
            log.warning("creating table %s", table)
            await editor.create_model(model)
            continue
        have = await introspect.columns(editor.client, table)
        for name, field in model._meta.fields_map.items():
            column = model._meta.fields_db_projection.get(name)
            if column is not None and not field.pk and column.lower() not in have:
                log.warning("adding column %s.%s", table, column)
                await _add_column(editor, model, name, field)
        present = await introspect.indexes(editor.client, table)
        for unique, names in _wanted_indexes(model):
            cols = tuple(model._meta.fields_db_projection[n].lower() for n in names)
            if _covered(present, unique, cols):
                continue
            log.warning("adding %s index on %s%s", "a unique" if unique else "an", table, cols)
            if unique:
                await editor.add_constraint(model, UniqueConstraint(fields=names))
            else:
                await editor.add_index(model, Index(fields=names))


async def _add_column(editor: BaseSchemaEditor, model: type[Model], name: str, field: fields.Field[Any]) -> None:
    """Add one column; rows already there get the field's default, as the ORM would have
    written it (a NOT NULL column without a default the database can hold is added nullable,
    so the rows stay)."""
    patched = copy(field)
    if not field.has_db_default():
        literal = _literal(field, editor.DIALECT)
        if literal is not None:
            patched.db_default = _Default(literal)
        elif not field.null:
            log.warning("%s.%s has no default for existing rows; added nullable",
                        model._meta.db_table, name)
            patched.null = True
    model._meta.fields_map[name] = patched
    try:
        await editor.add_field(model, name)
    finally:
        model._meta.fields_map[name] = field


class _Default:
    """A column default as an SQL literal. Not tortoise's ``SqlDefault``: MySQL's schema editor
    sets that only after adding the column, which leaves the rows already there without it."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def get_sql(self, _context: Any = None, dialect: str | None = None) -> str:
        return self.sql


def _literal(field: fields.Field[Any], dialect: str) -> str | None:
    """The field's Python default as an SQL literal, or None where there is none to give."""
    value = field.default
    if value is None or callable(value) or (dialect == "mysql" and isinstance(field, fields.TextField)):
        return None  # MySQL gives TEXT columns no default
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if dialect == "postgres" else str(int(value))
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return None


def _wanted_indexes(model: type[Model]) -> list[tuple[bool, tuple[str, ...]]]:
    """(unique, field names) of every index the model declares."""
    wanted: list[tuple[bool, tuple[str, ...]]] = []
    for name, field in model._meta.fields_map.items():
        if name in model._meta.fields_db_projection and not field.pk and (field.unique or field.index):
            wanted.append((bool(field.unique), (name,)))
    wanted += [(True, tuple(together)) for together in model._meta.unique_together]
    for index in model._meta.indexes:
        names = tuple(index.fields) if isinstance(index, Index) else tuple(index)
        if all(isinstance(n, str) and n in model._meta.fields_db_projection for n in names):
            wanted.append((False, names))
    return wanted


def _covered(present: list[introspect.IndexInfo], unique: bool, cols: tuple[str, ...]) -> bool:
    """Whether an index the table has serves: the same columns (unique where that is wanted),
    or for a plain index any index that starts with them."""
    for index in present:
        if unique and index.unique and set(index.columns) == set(cols):
            return True
        if not unique and index.columns[: len(cols)] == cols:
            return True
    return False
