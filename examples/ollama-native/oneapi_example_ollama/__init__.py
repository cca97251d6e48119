"""Example oneapi plugin: OpenAI chat completions relayed to Ollama's native API.

A channel of type 1030 "Ollama (native API, example)" sends ``/v1/chat/completions`` to
``POST {base}/api/chat`` and converts the answer (whole or streamed as NDJSON) and its usage
back to OpenAI's format. (Ollama also speaks OpenAI's format under ``/v1``, channel type 30 of
the ``openai`` plugin; this plugin exists to show how a provider with a format of its own is
added.) ``docs/plugins.md`` walks through it.

The plugin is this module: the gateway finds it through the entry point in pyproject.toml
(group ``oneapi``) and calls the ``@hookimpl`` functions below once, at start-up.
"""

from __future__ import annotations

from oneapi.plugin import ChannelType, ConfigField, ModelPrices, OptionSpec, hookimpl

from ._adaptor import KEEP_ALIVE_OPTION, OllamaAdaptor, keep_alive_error

__all__ = ["CHANNEL_TYPE", "PRICES", "register_channel_types", "register_model_prices", "register_options"]

#: The channel type id. One API's own ids are small numbers; a plugin picks one far from them.
CHANNEL_TYPE = 1030

#: Default models of the channel type and their prices: (model ratio, completion ratio).
#: Ratio 1 = $2 per 1M prompt tokens; completion ratio = completion price / prompt price.
#: A local model costs what its hardware does: these nominal prices meter usage, and operators
#: change them on the settings page (ModelRatio, CompletionRatio). Two plugins may not price the
#: same model, so choose names no other plugin prices.
PRICES: dict[str, tuple[float, float]] = {
    "llama3.1": (0.1, 2), "gemma3": (0.15, 3), "mistral": (0.1, 2), "llava": (0.2, 2),
}


@hookimpl
def register_channel_types() -> list[ChannelType]:
    """The channel type: its id, name, defaults shown in the UI, config fields and adaptor."""
    num_ctx = ConfigField("num_ctx", "Context window (num_ctx)", "上下文长度 (num_ctx)", type="number",
                          default=0, help="tokens of context Ollama gives the model (0: the model's default)")
    return [ChannelType(id=CHANNEL_TYPE, name="Ollama (native API, example)", adaptor=OllamaAdaptor,
                        base_url="http://localhost:11434", models=tuple(PRICES), config_fields=(num_ctx,))]


@hookimpl
def register_model_prices() -> ModelPrices:
    """Default prices of the models above (the ModelRatio/CompletionRatio options win)."""
    return ModelPrices(model_ratios={m: p[0] for m, p in PRICES.items()},
                       completion_ratios={m: p[1] for m, p in PRICES.items()})


@hookimpl
def register_options() -> list[OptionSpec]:
    """One gateway-wide setting: how long Ollama keeps a model in memory after a request."""
    return [OptionSpec(
        KEEP_ALIVE_OPTION, "", keep_alive_error,
        label={"en": "Ollama keep_alive", "zh-CN": "Ollama 模型保留时间 (keep_alive)"},
        help={"en": "How long Ollama keeps a model loaded after a request: seconds or a duration such as "
                    "10m; negative keeps it loaded. Blank: Ollama's default (5m).",
              "zh-CN": "请求后 Ollama 在内存中保留模型的时间：秒数或 10m 这样的时长；负数表示一直保留。"
                       "留空：使用 Ollama 的默认值 (5m)。"},
    )]
