"""The configuration the tortoise CLI reads::

    tortoise -c oneapi.schema.config.TORTOISE_ORM makemigrations <app label>

``TORTOISE_ORM`` is built when asked for, from the environment (SQL_DSN, the plugins that
would load), so importing this module reads nothing.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "TORTOISE_ORM":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ..db import dsn_to_url
    from ..settings import load_settings
    from .apps import apps_for, tortoise_config

    settings = load_settings()
    return tortoise_config(dsn_to_url(settings), apps_for(settings))
