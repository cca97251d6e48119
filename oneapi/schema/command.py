"""``oneapi migrate``: apply the pending migrations of the core and every loaded plugin, then exit."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings
    from .apps import ModelApp
    from .run import Step

__all__ = ["run_migrate"]


def run_migrate(settings: Settings) -> int:
    """Migrate the database ``settings`` name and print what was applied. Exit code 0 once the
    database is up to date, 1 when a migration failed, 2 when the plugins' apps conflict."""
    from ..registry import StartupError
    from .apps import apps_for

    try:
        apps = apps_for(settings)
    except (StartupError, ValueError) as exc:
        print(f"oneapi: {exc}", file=sys.stderr)
        return 2
    try:
        steps = asyncio.run(_migrate(settings, apps))
    except Exception as exc:  # a failing migration: say which error, leave the traceback to the log
        print(f"oneapi migrate: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for step in steps:
        print(f"applied {step}")
    if not steps:
        print("nothing to migrate: the database is up to date")
    return 0


async def _migrate(settings: Settings, apps: list[ModelApp]) -> list[Step]:
    from ..db import Database

    db = Database(settings, apps)
    await db.connect()
    try:
        return await db.migrate()
    finally:
        await db.close()
