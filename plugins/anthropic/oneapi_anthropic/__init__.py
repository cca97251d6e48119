"""Anthropic Claude (channel type 14): OpenAI chat converted to and from the Messages API.

Also the Claude format inbound: ``POST /v1/messages`` for Anthropic clients, relayed natively
to Anthropic channels and converted to OpenAI chat (and back) for every other channel type.
"""

from __future__ import annotations

from quart import Blueprint

from oneapi.plugin import ChannelType, ConfigField, ModelPrices, hookimpl

from ._adaptor import ANTHROPIC_VERSION, AnthropicAdaptor
from ._inbound import AnthropicInbound
from ._models import COMPLETION_RATIOS, MODEL_RATIOS, MODELS
from ._routes import messages_blueprint

__all__ = ["AnthropicAdaptor", "AnthropicInbound", "register_blueprints", "register_channel_types",
           "register_model_prices"]

CONFIG_FIELDS = (
    ConfigField("anthropic_version", "anthropic-version", "API 版本 (anthropic-version)",
                default=ANTHROPIC_VERSION, help="sent upstream as the anthropic-version header"),
    ConfigField("anthropic_beta", "anthropic-beta", "Beta 功能 (anthropic-beta)",
                help="optional anthropic-beta header, e.g. a comma-separated list of betas"),
    ConfigField("max_tokens", "Default max_tokens", "默认 max_tokens", type="number", default=0,
                help="max_tokens when the client sets none (0: 4096 for Claude 3, else 8192)"),
)


@hookimpl
def register_channel_types() -> list[ChannelType]:
    return [ChannelType(id=14, name="Anthropic Claude", adaptor=AnthropicAdaptor,
                        base_url="https://api.anthropic.com", models=MODELS,
                        config_fields=CONFIG_FIELDS)]


@hookimpl
def register_model_prices() -> ModelPrices:
    return ModelPrices(model_ratios=dict(MODEL_RATIOS), completion_ratios=dict(COMPLETION_RATIOS))


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [messages_blueprint()]
