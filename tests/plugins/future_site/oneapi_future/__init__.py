"""Test plugin built for plugin API 2 (``oneapi>=2,<3``): the core must refuse to load it."""

LOADED = True
