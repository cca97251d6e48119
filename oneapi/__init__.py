"""oneapi: a plugin-based, OpenAI-compatible LLM API gateway.

Plugins import from ``oneapi.plugin`` (the plugin API). The names it exports are also reachable
here, loaded on first use, so ``import oneapi`` stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

__version__ = "1.0.0"


def __getattr__(name: str) -> Any:
    if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        raise AttributeError(name)  # a submodule: the import system loads it
    plugin = importlib.import_module("oneapi.plugin")
    if name in plugin.__all__:
        return getattr(plugin, name)
    raise AttributeError(f"module 'oneapi' has no attribute {name!r}")
