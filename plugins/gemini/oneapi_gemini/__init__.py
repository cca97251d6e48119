"""Google Gemini (channel type 24): OpenAI chat and embeddings converted to Gemini's API."""

from __future__ import annotations

from oneapi.plugin import ChannelType, ConfigField, ModelPrices, hookimpl

from ._adaptor import DEFAULT_SAFETY, DEFAULT_VERSION, GeminiAdaptor
from ._models import COMPLETION_RATIOS, MODEL_RATIOS, MODELS

__all__ = ["GeminiAdaptor", "register_channel_types", "register_model_prices"]

CONFIG_FIELDS = (
    ConfigField("api_version", "API version", "API 版本", default=DEFAULT_VERSION,
                help="path segment of the API, e.g. v1beta or v1 (falls back to the legacy 'other' field)"),
    ConfigField("safety_setting", "Safety threshold", "安全设置阈值", default=DEFAULT_SAFETY,
                help="threshold for every harm category: BLOCK_NONE, OFF, BLOCK_ONLY_HIGH, "
                     "BLOCK_MEDIUM_AND_ABOVE or BLOCK_LOW_AND_ABOVE"),
)


@hookimpl
def register_channel_types() -> list[ChannelType]:
    return [ChannelType(id=24, name="Google Gemini", adaptor=GeminiAdaptor,
                        base_url="https://generativelanguage.googleapis.com", models=MODELS,
                        config_fields=CONFIG_FIELDS)]


@hookimpl
def register_model_prices() -> ModelPrices:
    return ModelPrices(model_ratios=dict(MODEL_RATIOS), completion_ratios=dict(COMPLETION_RATIOS))
