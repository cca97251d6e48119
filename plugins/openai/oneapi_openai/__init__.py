"""OpenAI and the OpenAI-format providers: channel types, adaptor, default prices."""

from __future__ import annotations

from oneapi.plugin import ChannelType, ConfigField, ModelPrices, hookimpl

from ._adaptor import OpenAIAdaptor
from ._presets import PRESETS
from ._prices import COMPLETION_RATIOS, IMAGE_RATIOS, MODEL_RATIOS

__all__ = ["OpenAIAdaptor", "register_channel_types", "register_model_prices"]


@hookimpl
def register_channel_types() -> list[ChannelType]:
    organization = ConfigField(
        "organization", "OpenAI-Organization", "组织 ID (OpenAI-Organization)",
        help="sent upstream as the OpenAI-Organization header",
    )
    return [
        ChannelType(
            id=type_id,
            name=preset.name,
            adaptor=OpenAIAdaptor,
            base_url=preset.base_url,
            models=preset.models,
            config_fields=(organization,) if type_id == 1 else (),
        )
        for type_id, preset in PRESETS.items()
    ]


@hookimpl
def register_model_prices() -> ModelPrices:
    return ModelPrices(
        model_ratios=dict(MODEL_RATIOS),
        completion_ratios=dict(COMPLETION_RATIOS),
        image_ratios={k: dict(v) for k, v in IMAGE_RATIOS.items()},
    )
