"""Migration operations the tortoise autodetector cannot write: SQL that differs per dialect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tortoise.migrations.operations import RunSQL
from tortoise.migrations.schema_editor.base import BaseSchemaEditor
from tortoise.migrations.schema_generator.state import State

__all__ = ["DialectSQL"]

Statements = str | Sequence[str]


class DialectSQL(RunSQL):
    """Raw SQL chosen by the database's dialect (``"sqlite"``, ``"postgres"``, ``"mysql"``).

    A dialect missing from ``sql`` stops the migration, naming it; write statements so that
    they may run against tables that already have what they add (``IF NOT EXISTS``): a
    database adopted from One API may have it.
    """

    def __init__(self, sql: Mapping[str, Statements], reverse_sql: Mapping[str, Statements] | None = None,
                 *, atomic: bool | None = None) -> None:
        super().__init__(dict(sql), dict(reverse_sql) if reverse_sql is not None else None, atomic=atomic)

    def describe(self) -> str:
        return "Run SQL for " + ", ".join(sorted(self.sql))

    async def database_forward(self, app_label: str, old_state: State, new_state: State,
                               state_editor: BaseSchemaEditor | None = None) -> None:
        if state_editor is not None:
            await self._run_sql(state_editor, _pick(self.sql, state_editor))

    async def database_backward(self, app_label: str, old_state: State, new_state: State,
                                state_editor: BaseSchemaEditor | None = None) -> None:
        if state_editor is None:
            return
        if self.reverse_sql is None:
            raise NotImplementedError("DialectSQL: reverse_sql is not set")
        await self._run_sql(state_editor, _pick(self.reverse_sql, state_editor))


def _pick(by_dialect: dict[str, Any], editor: BaseSchemaEditor) -> Any:
    dialect = editor.DIALECT
    if dialect not in by_dialect:
        raise NotImplementedError(f"DialectSQL: no statement for {dialect}")
    statements = by_dialect[dialect]
    return [statements] if isinstance(statements, str) else list(statements)
