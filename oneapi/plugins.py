"""The plugin manager: entry points of group ``oneapi`` plus the core's own defaults."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from dataclasses import dataclass, field

import pluggy
from packaging.requirements import InvalidRequirement, Requirement

from . import hookspecs
from .hookspecs import PLUGIN_API_VERSION
from .registry import StartupError

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
        dist = ep.dist
        _check_api(ep.name, dist)
        pm.register(ep.load(), name=ep.name)
        infos[ep.name] = PluginInfo(
            ep.name, dist.version if dist else "", dist.metadata["Name"] if dist else ""
        )
    pm.check_pending()
    for name, info in infos.items():
        plugin = pm.get_plugin(name)
        info.hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
    return pm, infos


def _check_api(name: str, dist: importlib.metadata.Distribution | None) -> None:
    """Refuse a plugin built for another major version of the plugin API (StartupError)."""
    core = _core_version()
    wanted = [r for r in _requirements(dist) if r.name.lower() == "oneapi"]
    if not wanted:
        log.warning("plugin %s does not say which oneapi it was built for; declare "
                    "oneapi>=%d.0,<%d in its dependencies", name, PLUGIN_API_VERSION, PLUGIN_API_VERSION + 1)
        return
    for requirement in wanted:
        if not requirement.specifier.contains(core, prereleases=True):
            raise StartupError(
                f"plugin {name} ({dist.metadata['Name'] if dist else '?'} {dist.version if dist else ''}) "
                f"requires {requirement}, but this is oneapi {core} (plugin API {PLUGIN_API_VERSION}): "
                f"install a release of the plugin built for oneapi {PLUGIN_API_VERSION}.x, or leave it "
                f"out with ONEAPI_DISABLED_PLUGINS={name}"
            )


def _requirements(dist: importlib.metadata.Distribution | None) -> list[Requirement]:
    found = []
    for line in (dist.requires or []) if dist else []:
        try:
            found.append(Requirement(line))
        except InvalidRequirement:
            continue
    return found


def _core_version() -> str:
    from . import __version__

    return __version__
