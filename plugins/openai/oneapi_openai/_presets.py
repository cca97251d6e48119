"""One API's OpenAI-format channel types as data: name, default base URL, path prefix, models."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    name: str
    base_url: str
    models: tuple[str, ...] = ()
    api_prefix: str = "/v1"


_OPENAI_MODELS = (
    "gpt-3.5-turbo", "gpt-4", "gpt-4-turbo", "gpt-4o", "gpt-4o-mini", "chatgpt-4o-latest",
    "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5", "gpt-5-mini", "gpt-5-nano",
    "o1", "o1-mini", "o3", "o3-mini", "o4-mini",
    "text-embedding-ada-002", "text-embedding-3-small", "text-embedding-3-large",
    "text-moderation-latest", "text-moderation-stable", "omni-moderation-latest",
    "dall-e-2", "dall-e-3", "whisper-1", "tts-1", "tts-1-hd", "gpt-3.5-turbo-instruct",
)

PRESETS: dict[int, Preset] = {
    1: Preset("OpenAI", "https://api.openai.com", _OPENAI_MODELS),
    8: Preset("Custom", "", ()),
    20: Preset("OpenRouter", "https://openrouter.ai/api",
               ("openai/gpt-4o", "anthropic/claude-3.5-sonnet", "google/gemini-2.0-flash-001")),
    25: Preset("Moonshot", "https://api.moonshot.cn",
               ("moonshot-v1-8k", "moonshot-v1-32k", "moonshot-v1-128k")),
    28: Preset("Mistral", "https://api.mistral.ai",
               ("mistral-large-latest", "mistral-small-latest", "open-mistral-nemo", "mistral-embed")),
    29: Preset("Groq", "https://api.groq.com/openai",
               ("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "gemma2-9b-it")),
    30: Preset("Ollama", "http://localhost:11434", ("llama3.2", "qwen2.5")),
    31: Preset("零一万物", "https://api.lingyiwanwu.com", ("yi-large", "yi-medium", "yi-lightning")),
    32: Preset("阶跃星辰 StepFun", "https://api.stepfun.com", ("step-1-8k", "step-1-32k", "step-2-16k")),
    36: Preset("DeepSeek", "https://api.deepseek.com", ("deepseek-chat", "deepseek-reasoner")),
    39: Preset("together.ai", "https://api.together.xyz",
               ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "Qwen/Qwen2.5-72B-Instruct-Turbo")),
    40: Preset("字节跳动豆包 Doubao", "https://ark.cn-beijing.volces.com",
               ("doubao-pro-32k", "doubao-lite-32k"), api_prefix="/api/v3"),
    44: Preset("SiliconFlow", "https://api.siliconflow.cn",
               ("deepseek-ai/DeepSeek-V3", "Qwen/Qwen2.5-72B-Instruct")),
    45: Preset("xAI", "https://api.x.ai", ("grok-2", "grok-beta")),
    49: Preset("阿里云百炼", "https://dashscope.aliyuncs.com",
               ("qwen-max", "qwen-plus", "qwen-turbo"), api_prefix="/compatible-mode/v1"),
    50: Preset("OpenAI Compatible", "", (), api_prefix=""),
}
