"""Tortoise apps: the core's tables and each plugin's, with their migrations packages."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tortoise.models import Model

from ..registry import StartupError, _claim, _collect

if TYPE_CHECKING:
    import pluggy

    from ..settings import Settings

__all__ = ["CORE_APP", "ModelApp", "apps_for", "collect_apps", "tortoise_config"]


@dataclass(frozen=True)
class ModelApp:
    """A tortoise app: its label, the module holding its models, its migrations package.

    The label names the app in ``tortoise_migrations`` and in model references
    (``"label.Model"``); it must not change once migrations were applied.
    """

    label: str
    models: str
    migrations: str


# The core's label is "models", as tortoise names an app configured with ``modules=``.
CORE_APP = ModelApp(label="models", models="oneapi.models", migrations="oneapi.migrations")


def collect_apps(pm: pluggy.PluginManager) -> list[ModelApp]:
    """The core's app and every loaded plugin's; raise StartupError when two claim one label
    or one table."""
    owners: dict[str, str] = {}
    apps = [CORE_APP]
    _claim(owners, f"model app {CORE_APP.label!r}", "oneapi")
    for plugin, app in _collect(pm, "register_models"):
        if not isinstance(app, ModelApp):
            raise StartupError(f"plugin {plugin}: register_models must return ModelApp items")
        _claim(owners, f"model app {app.label!r}", plugin)
        apps.append(app)
    for app in apps:
        owner = owners[f"model app {app.label!r}"]
        for table in _tables(app):
            _claim(owners, f"table {table!r}", owner)
    return apps


def apps_for(settings: Settings) -> list[ModelApp]:
    """The apps of the plugins these settings load (ONEAPI_PLUGINS, ONEAPI_DISABLED_PLUGINS)."""
    from ..plugins import get_plugin_manager

    pm, _ = get_plugin_manager(settings.allowed_plugins, settings.disabled_plugins)
    return collect_apps(pm)


def _tables(app: ModelApp) -> list[str]:
    """The tables of the models an app's module defines (tortoise discovers them the same way)."""
    module = importlib.import_module(app.models)
    names = getattr(module, "__models__", None)
    candidates = names if names is not None else vars(module).values()
    return [
        obj._meta.db_table
        for obj in candidates
        if inspect.isclass(obj) and issubclass(obj, Model) and obj is not Model
        and obj.__module__ == module.__name__ and not obj._meta.abstract
    ]


def tortoise_config(url: str, apps: list[ModelApp]) -> dict[str, Any]:
    """The ``Tortoise.init`` / tortoise CLI configuration of these apps on one connection."""
    return {
        "connections": {"default": url},
        "apps": {
            app.label: {"models": [app.models], "migrations": app.migrations, "default_connection": "default"}
            for app in apps
        },
    }
