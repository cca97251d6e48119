"""Default prices of OpenAI-format models (ratio 1 = $0.002 / 1K tokens = $2 / 1M tokens)."""

from __future__ import annotations

__all__ = ["COMPLETION_RATIOS", "IMAGE_RATIOS", "MODEL_RATIOS"]

_RMB = 1 / 7.3  # ratios of models priced in yuan

MODEL_RATIOS: dict[str, float] = {
    "gpt-3.5-turbo": 0.25, "gpt-3.5-turbo-instruct": 0.75, "gpt-4": 15, "gpt-4-turbo": 5,
    "gpt-4o": 1.25, "gpt-4o-mini": 0.075, "chatgpt-4o-latest": 2.5,
    "gpt-4.1": 1, "gpt-4.1-mini": 0.2, "gpt-4.1-nano": 0.05,
    "gpt-5": 0.625, "gpt-5-mini": 0.125, "gpt-5-nano": 0.025,
    "o1": 7.5, "o1-mini": 0.55, "o3": 1, "o3-mini": 0.55, "o4-mini": 0.55,
    "text-embedding-ada-002": 0.05, "text-embedding-3-small": 0.01, "text-embedding-3-large": 0.065,
    "text-moderation-latest": 0.1, "text-moderation-stable": 0.1, "omni-moderation-latest": 0.1,
    "dall-e-2": 10, "dall-e-3": 20, "whisper-1": 15, "tts-1": 7.5, "tts-1-hd": 15,
    "deepseek-chat": 0.135, "deepseek-reasoner": 0.275,
    "moonshot-v1-8k": 6 * _RMB, "moonshot-v1-32k": 12 * _RMB, "moonshot-v1-128k": 30 * _RMB,
    "mistral-large-latest": 1, "mistral-small-latest": 0.1, "open-mistral-nemo": 0.075,
    "mistral-embed": 0.05,
    "llama-3.3-70b-versatile": 0.295, "llama-3.1-8b-instant": 0.025, "gemma2-9b-it": 0.1,
    "yi-large": 10 * _RMB, "yi-medium": 1.25 * _RMB, "yi-lightning": 0.495 * _RMB,
    "step-1-8k": 2.5 * _RMB, "step-1-32k": 7.5 * _RMB, "step-2-16k": 19 * _RMB,
    "doubao-pro-32k": 0.4 * _RMB, "doubao-lite-32k": 0.15 * _RMB,
    "grok-2": 1, "grok-beta": 2.5,
    "qwen-max": 1.2 * _RMB, "qwen-plus": 0.4 * _RMB, "qwen-turbo": 0.15 * _RMB,
}

COMPLETION_RATIOS: dict[str, float] = {
    "gpt-3.5-turbo": 3, "gpt-3.5-turbo-instruct": 4 / 3, "gpt-4": 2, "gpt-4-turbo": 3,
    "gpt-4o": 4, "gpt-4o-mini": 4, "chatgpt-4o-latest": 3,
    "gpt-4.1": 4, "gpt-4.1-mini": 4, "gpt-4.1-nano": 4,
    "gpt-5": 8, "gpt-5-mini": 8, "gpt-5-nano": 8,
    "o1": 4, "o1-mini": 4, "o3": 4, "o3-mini": 4, "o4-mini": 4,
    "whisper-1": 1, "deepseek-chat": 4, "deepseek-reasoner": 3.98,
    "mistral-large-latest": 3, "mistral-small-latest": 3, "grok-2": 5, "grok-beta": 3,
    "qwen-max": 4, "qwen-plus": 3, "qwen-turbo": 2,
}

IMAGE_RATIOS: dict[str, dict[str, float]] = {
    "dall-e-2": {"256x256": 0.8, "512x512": 0.9, "1024x1024": 1},
    "dall-e-3": {
        "1024x1024": 1, "1024x1792": 2, "1792x1024": 2,
        "hd:1024x1024": 2, "hd:1024x1792": 3, "hd:1792x1024": 3,
    },
}
