"""Azure OpenAI's default model list.

Azure serves OpenAI's models, so it registers no prices: the openai plugin owns them (a
price may be registered by one plugin only) and Azure channels are billed the same way.
"""

from __future__ import annotations

__all__ = ["MODELS"]

MODELS: tuple[str, ...] = (
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4", "gpt-4-turbo",
    "gpt-3.5-turbo", "gpt-3.5-turbo-instruct", "o1", "o1-mini", "o3", "o3-mini", "o4-mini",
    "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
    "dall-e-3", "whisper-1", "tts-1", "tts-1-hd",
)
