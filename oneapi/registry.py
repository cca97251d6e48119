"""What plugins register (channel types, prices, options, jobs, payment providers),
collected once at start-up and checked for conflicts."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pluggy
    from quart import Blueprint, Quart

    from .adaptor import Adaptor

__all__ = [
    "ChannelType",
    "ConfigField",
    "Job",
    "ModelPrices",
    "OptionSpec",
    "PaymentProvider",
    "Registry",
    "StartupError",
    "build_registry",
]


class StartupError(Exception):
    """The plugins' registrations conflict; the message names the plugins."""


@dataclass(frozen=True)
class ConfigField:
    """A type-specific channel setting shown in the UI and stored in ``channels.config``."""

    key: str
    label: str
    label_zh: str = ""
    type: str = "string"
    default: Any = ""
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class ChannelType:
    """A kind of upstream channel: One API's type id, defaults and the adaptor that speaks to it."""

    id: int
    name: str
    adaptor: type[Adaptor]
    base_url: str = ""
    models: tuple[str, ...] = ()
    config_fields: tuple[ConfigField, ...] = ()


@dataclass(frozen=True)
class ModelPrices:
    """Default prices: ratios (1 = $0.002 / 1K tokens), completion ratios, per-call USD prices.

    ``image_ratios`` maps an image model to size multipliers keyed ``"1024x1024"`` (standard)
    or ``"hd:1024x1024"`` (quality hd); a size missing from the map is refused.
    """

    model_ratios: dict[str, float] = field(default_factory=dict)
    completion_ratios: dict[str, float] = field(default_factory=dict)
    model_prices: dict[str, float] = field(default_factory=dict)
    image_ratios: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class OptionSpec:
    """An option key (table ``options``) with its default value and a validator.

    ``validate`` returns an error message, or None when the value is acceptable.
    ``secret`` values are never returned by the options API; ``public`` ones appear in /api/status.
    """

    key: str
    default: str = ""
    validate: Callable[[str], str | None] | None = None
    secret: bool = False
    # How the web UI shows it (GET /api/option/specs); all optional. Texts are keyed by
    # language ("en", "zh-CN"); ``type`` is how the value is edited: "string", "text",
    # "number", "bool", "json", "secret" (write-only) or "select"; ``section`` is the settings
    # tab (a core one: "system", "operation", "ratio", "payment"; or one of the plugin's own;
    # blank: the plugin's name) and ``group`` the card in it (blank: the plugin's name);
    # ``choices`` the values of a "select"; ``minimum``/``maximum`` bound a "number".
    label: dict[str, str] = field(default_factory=dict, hash=False)
    help: dict[str, str] = field(default_factory=dict, hash=False)
    type: str = "string"
    section: str = ""
    group: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Job:
    """A background job run every ``interval()`` seconds (0 or less: skip this round)."""

    name: str
    interval: Callable[[Any], float]
    run: Callable[[Any], Awaitable[None]]
    master_only: bool = True


class PaymentProvider:
    """Creates payments and verifies callbacks; the core owns orders and crediting."""

    name: str = ""
    methods: tuple[str, ...] = ()

    async def create_payment(self, services: Any, order: Any, urls: dict[str, str]) -> dict[str, Any]:
        """Return what the browser must do: ``{"url", "method", "fields"}``."""
        raise NotImplementedError("The 'create_payment' method must be implemented.")

    def verify_callback(self, params: dict[str, str], services: Any) -> Any:
        """Check a callback; return a ``PaymentNotice`` or raise ``PaymentError``."""
        raise NotImplementedError("The 'verify_callback' method must be implemented.")


@dataclass
class Registry:
    """Everything the loaded plugins registered, keyed for lookups on the hot path."""

    channel_types: dict[int, ChannelType] = field(default_factory=dict)
    model_ratios: dict[str, float] = field(default_factory=dict)
    completion_ratios: dict[str, float] = field(default_factory=dict)
    model_prices: dict[str, float] = field(default_factory=dict)
    image_ratios: dict[str, dict[str, float]] = field(default_factory=dict)
    options: dict[str, OptionSpec] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    payment_providers: dict[str, PaymentProvider] = field(default_factory=dict)
    relay_modes: dict[str, Any] = field(default_factory=dict)  # name -> a plugin's RelayMode
    owners: dict[str, str] = field(default_factory=dict)

    def blueprints(self, pm: pluggy.PluginManager, app: Quart, services: Any) -> list[tuple[str, Blueprint]]:
        """Each plugin's blueprints, with the plugin's name."""
        return _collect(pm, "register_blueprints", app=app, services=services)


def _collect(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call every implementation of a collected hook; return (plugin name, item) pairs."""
    caller = getattr(pm.hook, hook_name)
    found: list[tuple[str, Any]] = []
    for impl in reversed(caller.get_hookimpls()):
        wanted = {k: v for k, v in kwargs.items() if k in impl.argnames}
        result = impl.function(**wanted)
        if result is None:
            continue
        if inspect.isawaitable(result):
            raise StartupError(f"plugin {impl.plugin_name}: {hook_name} must not be async")
        items = result if isinstance(result, list | tuple) else [result]
        found.extend((impl.plugin_name, item) for item in items)
    return found


def _claim(owners: dict[str, str], what: str, plugin: str) -> None:
    previous = owners.get(what)
    if previous is not None and previous != plugin:
        raise StartupError(f"{what} is registered by both plugin {previous!r} and plugin {plugin!r}")
    owners[what] = plugin


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Collect every registration once; raise StartupError on a duplicate."""
    reg = Registry()
    for plugin, ct in _collect(pm, "register_channel_types"):
        _claim(reg.owners, f"channel type {ct.id}", plugin)
        reg.channel_types[ct.id] = ct
    for plugin, prices in _collect(pm, "register_model_prices"):
        for table, target in (
            (prices.model_ratios, reg.model_ratios),
            (prices.completion_ratios, reg.completion_ratios),
            (prices.model_prices, reg.model_prices),
            (prices.image_ratios, reg.image_ratios),
        ):
            for model, value in table.items():
                _claim(reg.owners, f"price of model {model!r}", plugin)
                target[model] = value
    for plugin, spec in _collect(pm, "register_options"):
        _claim(reg.owners, f"option {spec.key}", plugin)
        reg.options[spec.key] = spec
    for plugin, job in _collect(pm, "register_jobs"):
        _claim(reg.owners, f"job {job.name}", plugin)
        reg.jobs.append(job)
    for plugin, provider in _collect(pm, "register_payment_providers"):
        _claim(reg.owners, f"payment provider {provider.name!r}", plugin)
        reg.payment_providers[provider.name] = provider
    from .relay.modes import MODES  # (the relay package imports this module)

    for plugin, mode in _collect(pm, "register_relay_modes"):
        if mode.name in MODES:
            raise StartupError(f"plugin {plugin!r} registers relay mode {mode.name!r}, which is the core's")
        _claim(reg.owners, f"relay mode {mode.name!r}", plugin)
        reg.relay_modes[mode.name] = mode
    return reg
