"""Prices and the quota formula (quota moves through oneapi/ledger)."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from .relay.context import Price, RelayError, Usage

if TYPE_CHECKING:
    from .options import Options
    from .registry import Registry

__all__ = ["Price", "Pricing"]

log = logging.getLogger("oneapi.billing")


class Pricing:
    """Looks prices up: admin overrides (options) first, then the plugins' defaults."""

    def __init__(self, registry: Registry, options: Options) -> None:
        self.registry = registry
        self.options = options

    def group_ratio(self, group: str) -> float:
        return float(self.options.json("GroupRatio").get(group, 1))

    def price(self, model: str, group: str, channel_type: int | None = None) -> Price:
        """The price of ``model``; RelayError 400 for a model nobody priced."""
        group_ratio = self.group_ratio(group)
        per_call = self.options.json("ModelPrice").get(model, self.registry.model_prices.get(model))
        completion = float(
            self.options.json("CompletionRatio").get(
                model, self.registry.completion_ratios.get(model, 1)
            )
        )
        if per_call is not None:
            return Price(0, completion, group_ratio, float(per_call))
        ratios = self.options.json("ModelRatio")
        ratio = None
        if channel_type is not None:
            ratio = ratios.get(f"{model}({channel_type})")
        if ratio is None:
            ratio = ratios.get(model, self.registry.model_ratios.get(model))
        if ratio is None:
            ratio = ratios.get("*")
        if ratio is None:
            raise RelayError(
                400,
                f"model {model} has no price; an administrator must set its ratio "
                "(ModelRatio) or price (ModelPrice), or a default ratio under \"*\"",
                "invalid_request_error",
                "model_price_unset",
                "model",
            )
        return Price(float(ratio), completion, group_ratio)

    def quota_per_unit(self) -> float:
        return self.options.float("QuotaPerUnit", 500000)

    def text_quota(self, price: Price, usage: Usage) -> int:
        """ceil(group × model ratio × (prompt + completion × completion ratio)), or the call price."""
        if price.per_call_usd is not None:
            return int(price.per_call_usd * self.quota_per_unit() * price.group_ratio)
        if usage.prompt_tokens + usage.completion_tokens == 0:
            return 0
        ratio = price.model_ratio * price.group_ratio
        quota = math.ceil(
            round(
                (usage.prompt_tokens + usage.completion_tokens * price.completion_ratio) * ratio, 6
            )
        )
        return max(quota, 1) if ratio != 0 else 0

    def image_quota(self, price: Price, model: str, size: str, quality: str, n: int) -> int:
        """int(model ratio × group ratio × size ratio × 1000) × n, or the call price × n."""
        sizes = self.registry.image_ratios.get(model)
        size_ratio = 1.0
        if sizes is not None:
            key = f"hd:{size}" if quality == "hd" and f"hd:{size}" in sizes else size
            if key not in sizes:
                allowed = ", ".join(sorted(k for k in sizes if not k.startswith("hd:")))
                raise RelayError(
                    400, f"size {size} is not supported by {model}; use one of: {allowed}",
                    "invalid_request_error", "invalid_size", "size",
                )
            size_ratio = sizes[key]
        if price.per_call_usd is not None:
            return int(price.per_call_usd * self.quota_per_unit() * price.group_ratio * size_ratio) * n
        return int(price.model_ratio * price.group_ratio * size_ratio * 1000) * n
