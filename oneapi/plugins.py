"""The plugin manager: entry points of group ``oneapi`` plus the core's own defaults."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from dataclasses import dataclass, field

import pluggy

from . import hookspecs

__all__ = ["PluginInfo", "get_plugin_manager"]

log = logging.getLogger("oneapi.plugins")

# The core's own hookimpls, registered like any plugin (trylast where they are fallbacks).
DEFAULT_PLUGINS = ("oneapi.defaults", "oneapi.payment_defaults")


@dataclass
class PluginInfo:
    """A loaded plugin as /api/plugins shows it."""

    name: str
    version: str
    distribution: str
    core: bool = False
    hooks: list[str] = field(default_factory=list)


def get_plugin_manager(
    allowed: set[str] | None = None, disabled: set[str] | frozenset[str] = frozenset()
) -> tuple[pluggy.PluginManager, dict[str, PluginInfo]]:
    """Build a plugin manager with the core defaults and every allowed entry-point plugin."""
    pm = pluggy.PluginManager("oneapi")
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        infos[module_name] = PluginInfo(module_name, _core_version(), "oneapi", core=True)
    for ep in importlib.metadata.entry_points(group="oneapi"):
        if ep.name in disabled or (allowed is not None and ep.name not in allowed):
            log.info("plugin %s is not loaded (ONEAPI_PLUGINS / ONEAPI_DISABLED_PLUGINS)", ep.name)
            continue
        if pm.has_plugin(ep.name):
            continue
        pm.register(ep.load(), name=ep.name)
        dist = ep.dist
        infos[ep.name] = PluginInfo(
            ep.name, dist.version if dist else "", dist.metadata["Name"] if dist else ""
        )
    pm.check_pending()
    for name, info in infos.items():
        plugin = pm.get_plugin(name)
        info.hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
    return pm, infos


def _core_version() -> str:
    from . import __version__

    return __version__
