"""The plugin contract: every hook a oneapi plugin may implement.

Hooks are called with keyword arguments. pluggy is synchronous: a ``firstresult``
hook returns a plain value (or an object whose methods are async), never a
coroutine. Collected hooks may return awaitables; the core awaits them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pluggy import HookimplMarker, HookspecMarker

if TYPE_CHECKING:
    from quart import Blueprint, Quart

    from .registry import ChannelType, Job, ModelPrices, OptionSpec, PaymentProvider
    from .relay.context import Price, RelayContext, Usage
    from .relay.plugin_modes import RelayMode
    from .schema import ModelApp
    from .services import Services

#: The plugin API's version: the core's major version. A plugin requiring another is refused.
PLUGIN_API_VERSION = 1

hookspec = HookspecMarker("oneapi")
hookimpl = HookimplMarker("oneapi")


# --- registrations: collected once at start-up, validated by the core ---


@hookspec
def register_channel_types() -> list[ChannelType]:
    """Return the channel types this plugin relays to (One API type ids)."""


@hookspec
def register_model_prices() -> ModelPrices:
    """Return default model ratios, completion ratios and per-call prices."""


@hookspec
def register_options() -> list[OptionSpec]:
    """Return option keys with their defaults and validation."""


@hookspec
def register_blueprints(app: Quart, services: Services) -> list[Blueprint]:
    """Return extra Quart blueprints (routes such as ``/mj/...`` or payment callbacks); their
    views reach the core through ``services``."""


@hookspec
def register_jobs() -> list[Job]:
    """Return background jobs (name, interval, master-only, coroutine function)."""


@hookspec
def register_payment_providers() -> list[PaymentProvider]:
    """Return payment providers (name, methods, create a payment, verify a callback)."""


@hookspec
def register_models() -> list[ModelApp]:
    """Return this plugin's tortoise app: label, models module and migrations package (its
    tables and their migrations; ``oneapi migrate`` applies them)."""


@hookspec
def register_relay_modes() -> list[RelayMode]:
    """Return kinds of relay request this plugin adds (``RelayMode``: a name, the upstream path,
    which channel types serve it, its checks, prompt, reserve, quota and answer); the plugin's own
    route relays one with ``relay_request(name)``, the core prices, picks the channel and settles."""


# --- relay: called per request ---


@hookspec
def transform_request(ctx: RelayContext, payload: dict[str, Any] | None) -> Any:
    """Change ``payload`` in place or raise ``RelayError`` to reject the request; may return an awaitable."""


@hookspec
def transform_response(ctx: RelayContext, result: Any) -> Any:
    """Inspect or change a non-stream relay result; may return an awaitable."""


@hookspec(firstresult=True)
def calculate_quota(ctx: RelayContext, usage: Usage, price: Price, quota: int) -> int | None:
    """Return the quota to charge for this request, priced at ``price``; ``quota`` is what the
    core's formula charges (its trylast default returns it)."""


@hookspec
def quota_consumed(ctx: RelayContext, quota: int) -> Any:
    """Called after a request's quota was settled (alerts, exports); may return an awaitable."""


@hookspec
def extend_status(services: Services) -> dict[str, Any]:
    """Keys this plugin adds to /api/status (feature flags front-ends read there, such as
    New API's ``enable_drawing``); they override the core's defaults of those keys."""


@hookspec
def payment_completed(order: Any) -> Any:
    """Called after the core credited a paid order; may return an awaitable."""
