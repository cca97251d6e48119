"""Midjourney-Proxy through the gateway: channel types 2 (Midjourney Proxy) and 5 (Midjourney
Proxy Plus), the ``/mj`` routes with the gateway's tokens and billing, task polling with
exactly-once refunds, the signed image proxy, and ``/api/mj`` for the web UI."""

from __future__ import annotations

from typing import Any

from oneapi.plugin import ChannelType, Job, ModelApp, ModelPrices, OptionSpec, Services, hookimpl

from ._actions import DEFAULT_PRICES, PLUS_MODELS, PROXY_MODELS
from ._api import api_blueprint
from ._client import MidjourneyAdaptor
from ._options import option_specs
from ._poller import poll_job, poll_once
from ._routes import mj_blueprint

__all__ = [
    "MidjourneyAdaptor",
    "extend_status",
    "poll_once",
    "register_blueprints",
    "register_channel_types",
    "register_jobs",
    "register_model_prices",
    "register_models",
    "register_options",
]


@hookimpl
def register_channel_types() -> list[ChannelType]:
    return [
        ChannelType(id=2, name="Midjourney Proxy", adaptor=MidjourneyAdaptor, models=PROXY_MODELS),
        ChannelType(id=5, name="Midjourney Proxy Plus", adaptor=MidjourneyAdaptor, models=PLUS_MODELS),
    ]


@hookimpl
def register_model_prices() -> ModelPrices:
    return ModelPrices(model_prices=dict(DEFAULT_PRICES))


@hookimpl
def register_options() -> list[OptionSpec]:
    return option_specs()


@hookimpl
def register_blueprints() -> list[Any]:
    return [mj_blueprint(), api_blueprint()]


@hookimpl
def register_jobs() -> list[Job]:
    return [poll_job()]


@hookimpl
def extend_status(services: Services) -> dict[str, Any]:
    """New API's front-end shows its drawing and task pages when these are on."""
    return {"enable_drawing": True, "enable_task": True,
            "mj_notify_enabled": services.options.bool("MjNotifyEnabled")}


@hookimpl
def register_models() -> list[ModelApp]:
    return [ModelApp("midjourney", "oneapi_midjourney._models", "oneapi_midjourney.migrations")]
