"""The database schema as tortoise apps (the core's, and one per plugin that has tables), each
with its migrations package; applied by ``migrate``, which adopts tables made without them."""

from __future__ import annotations

from .apps import CORE_APP, ModelApp, apps_for, collect_apps, tortoise_config
from .ops import DialectSQL
from .run import Step, migrate, pending

__all__ = ["CORE_APP", "DialectSQL", "ModelApp", "Step", "apps_for", "collect_apps", "migrate", "pending",
           "tortoise_config"]
