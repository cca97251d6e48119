"""Rerank: ``POST /v1/rerank`` (and ``/v2/rerank``) in Cohere's and Jina's format.

Channel types Cohere (35, One API's number) and Jina (38, New API's); the ``rerank`` relay mode
also goes to OpenAI-format channels (OpenAI, Custom, SiliconFlow, OpenAI Compatible) whose host
serves ``/v1/rerank`` (SiliconFlow, Xinference, vLLM, Infinity). Billed per token (the
upstream's count, else the gateway's), or with a per-call price (``ModelPrice``) per search
unit (Cohere's ``billed_units.search_units``).
"""

from __future__ import annotations

from quart import Blueprint

from oneapi.plugin import ChannelType, ModelPrices, RelayMode, hookimpl

from ._adaptors import CohereAdaptor, JinaAdaptor
from ._mode import COHERE, JINA, RerankMode
from ._routes import rerank_blueprint

__all__ = ["register_blueprints", "register_channel_types", "register_model_prices", "register_relay_modes"]

COHERE_MODELS = ("rerank-v3.5", "rerank-english-v3.0", "rerank-multilingual-v3.0")
JINA_MODELS = ("jina-reranker-v2-base-multilingual", "jina-reranker-m0", "jina-colbert-v2",
               "jina-embeddings-v3")


@hookimpl
def register_channel_types() -> list[ChannelType]:
    return [ChannelType(id=COHERE, name="Cohere", adaptor=CohereAdaptor, base_url="https://api.cohere.com",
                        models=COHERE_MODELS),
            ChannelType(id=JINA, name="Jina", adaptor=JinaAdaptor, base_url="https://api.jina.ai",
                        models=JINA_MODELS)]


@hookimpl
def register_model_prices() -> ModelPrices:
    # Cohere: $2 per 1,000 searches (a search unit: a query with up to 100 documents).
    # Jina: about $0.05 per million tokens (ratio 1 = $2 per million).
    return ModelPrices(model_prices={m: 0.002 for m in COHERE_MODELS},
                       model_ratios={m: 0.025 for m in JINA_MODELS})


@hookimpl
def register_relay_modes() -> list[RelayMode]:
    return [RerankMode()]


@hookimpl
def register_blueprints() -> list[Blueprint]:
    return [rerank_blueprint()]
