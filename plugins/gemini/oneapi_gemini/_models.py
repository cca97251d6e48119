"""Gemini models: the default model list and prices (ratio 1 = $2 / 1M input tokens).

Prices are Google's paid-tier list prices per million tokens for prompts up to 128K/200K
tokens: input / 2 is the model ratio, output / input the completion ratio.
"""

from __future__ import annotations

__all__ = ["COMPLETION_RATIOS", "MODELS", "MODEL_RATIOS"]

# model -> (input USD, output USD) per 1M tokens
_USD: dict[str, tuple[float, float]] = {
    "gemini-1.5-pro": (1.25, 5), "gemini-1.5-flash": (0.075, 0.3), "gemini-1.5-flash-8b": (0.0375, 0.15),
    "gemini-2.0-flash": (0.1, 0.4), "gemini-2.0-flash-lite": (0.075, 0.3),
    "gemini-2.5-pro": (1.25, 10), "gemini-2.5-flash": (0.3, 2.5), "gemini-2.5-flash-lite": (0.1, 0.4),
    "text-embedding-004": (0.02, 0.02), "gemini-embedding-001": (0.15, 0.15),
}

MODELS: tuple[str, ...] = tuple(_USD)
MODEL_RATIOS: dict[str, float] = {model: usd[0] / 2 for model, usd in _USD.items()}
COMPLETION_RATIOS: dict[str, float] = {
    model: round(usd[1] / usd[0], 4) for model, usd in _USD.items() if usd[1] != usd[0]
}
