"""What a database has: its tables, their columns and indexes (SQLite, PostgreSQL, MySQL)."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

__all__ = ["IndexInfo", "columns", "indexes", "tables"]


@dataclass(frozen=True)
class IndexInfo:
    """An index as the database has it: name, unique or not, its columns in order."""

    name: str
    unique: bool
    columns: tuple[str, ...]


def _dialect(conn: BaseDBAsyncClient) -> str:
    return conn.capabilities.dialect


async def tables(conn: BaseDBAsyncClient) -> set[str]:
    """The base tables of the connection's database (its current schema on PostgreSQL)."""
    dialect = _dialect(conn)
    if dialect == "sqlite":
        rows = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        schema = "DATABASE()" if dialect == "mysql" else "current_schema()"
        rows = await conn.execute_query_dict(
            "SELECT table_name AS name FROM information_schema.tables "
            f"WHERE table_schema = {schema} AND table_type = 'BASE TABLE'")
    return {str(r["name"]) for r in rows}


async def columns(conn: BaseDBAsyncClient, table: str) -> set[str]:
    """The column names of ``table``, lower-cased (MySQL compares them without case)."""
    dialect = _dialect(conn)
    if dialect == "sqlite":
        rows = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
    else:
        schema, mark = ("DATABASE()", "%s") if dialect == "mysql" else ("current_schema()", "$1")
        rows = await conn.execute_query_dict(
            "SELECT column_name AS name FROM information_schema.columns "
            f"WHERE table_schema = {schema} AND table_name = {mark}", [table])
    return {str(r["name"]).lower() for r in rows}


async def indexes(conn: BaseDBAsyncClient, table: str) -> list[IndexInfo]:
    """Every index of ``table``, the ones behind primary keys and unique constraints too."""
    dialect = _dialect(conn)
    found: dict[str, tuple[bool, list[tuple[int, str]]]] = {}
    if dialect == "sqlite":
        for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
            cols = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            found[index["name"]] = (bool(index["unique"]), [(c["seqno"], c["name"]) for c in cols])
    elif dialect == "postgres":
        rows = await conn.execute_query_dict(
            "SELECT i.relname AS name, x.indisunique AS uniq, k.n AS pos, a.attname AS col "
            "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) ON true "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
            "WHERE t.relname = $1 AND t.relnamespace = current_schema()::regnamespace", [table])
        for r in rows:
            found.setdefault(r["name"], (bool(r["uniq"]), []))[1].append((r["pos"], r["col"]))
    else:
        rows = await conn.execute_query_dict(
            "SELECT index_name AS name, non_unique AS nonu, seq_in_index AS pos, column_name AS col "
            "FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = %s", [table])
        for r in rows:
            found.setdefault(r["name"], (not int(r["nonu"]), []))[1].append((r["pos"], r["col"]))
    return [IndexInfo(name, unique, tuple(str(c).lower() for _, c in sorted(cols)))
            for name, (unique, cols) in found.items()]
