"""The ASGI app for hypercorn's worker processes (``oneapi --workers N``): built from the environment."""

from __future__ import annotations

from .app import create_app
from .cli import setup_logging
from .settings import load_settings

_settings = load_settings()
setup_logging(_settings.LOG_DIR or None, _settings.DEBUG)
app = create_app(_settings)
