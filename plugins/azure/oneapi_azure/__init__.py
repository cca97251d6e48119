"""Azure OpenAI (channel type 3): OpenAI's format at deployment URLs with an api-key header."""

from __future__ import annotations

from oneapi.plugin import ChannelType, ConfigField, ModelPrices, hookimpl

from ._adaptor import DEFAULT_API_VERSION, AzureAdaptor
from ._models import MODELS

__all__ = ["AzureAdaptor", "register_channel_types", "register_model_prices"]

CONFIG_FIELDS = (
    ConfigField("api_version", "API version", "API 版本", default=DEFAULT_API_VERSION,
                help="the api-version query parameter, e.g. 2024-10-21 or 2025-04-01-preview; "
                     "'v1' selects Azure's v1 API (falls back to the legacy 'other' field)"),
)


@hookimpl
def register_channel_types() -> list[ChannelType]:
    return [ChannelType(id=3, name="Azure OpenAI", adaptor=AzureAdaptor, base_url="", models=MODELS,
                        config_fields=CONFIG_FIELDS)]


@hookimpl
def register_model_prices() -> ModelPrices:
    """None of its own: Azure's models are OpenAI's, priced by the openai plugin."""
    return ModelPrices()
