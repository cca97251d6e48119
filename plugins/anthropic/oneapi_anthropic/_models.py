"""Claude models: the default model list and prices (ratio 1 = $2 / 1M input tokens).

Prices are Anthropic's list prices per million tokens: input / 2 is the model ratio and
output / input the completion ratio (5 for every Claude model so far).
"""

from __future__ import annotations

__all__ = ["COMPLETION_RATIOS", "MODELS", "MODEL_RATIOS", "default_max_tokens"]

# model id -> input USD per 1M tokens; aliases share their snapshot's price
_INPUT_USD: dict[str, float] = {
    "claude-3-haiku-20240307": 0.25,
    "claude-3-sonnet-20240229": 3,
    "claude-3-opus-20240229": 15, "claude-3-opus-latest": 15,
    "claude-3-5-haiku-20241022": 0.8, "claude-3-5-haiku-latest": 0.8,
    "claude-3-5-sonnet-20240620": 3, "claude-3-5-sonnet-20241022": 3, "claude-3-5-sonnet-latest": 3,
    "claude-3-7-sonnet-20250219": 3, "claude-3-7-sonnet-latest": 3,
    "claude-sonnet-4-20250514": 3, "claude-sonnet-4-0": 3,
    "claude-opus-4-20250514": 15, "claude-opus-4-0": 15,
    "claude-opus-4-1-20250805": 15, "claude-opus-4-1": 15,
    "claude-sonnet-4-5-20250929": 3, "claude-sonnet-4-5": 3,
    "claude-haiku-4-5-20251001": 1, "claude-haiku-4-5": 1,
    "claude-opus-4-5-20251101": 5, "claude-opus-4-5": 5,
}

MODELS: tuple[str, ...] = tuple(_INPUT_USD)
MODEL_RATIOS: dict[str, float] = {model: usd / 2 for model, usd in _INPUT_USD.items()}
COMPLETION_RATIOS: dict[str, float] = dict.fromkeys(_INPUT_USD, 5.0)


def default_max_tokens(model: str) -> int:
    """``max_tokens`` to send when the client gave none (Anthropic requires it).

    Claude 3 (not 3.5+) models cap output at 4096 tokens; later ones allow 8192 or more.
    """
    if model.startswith(("claude-3-haiku", "claude-3-sonnet", "claude-3-opus", "claude-2",
                         "claude-instant")):
        return 4096
    return 8192
