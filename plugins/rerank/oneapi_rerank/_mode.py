"""The ``rerank`` relay mode: checks, prompt, reserve, per-token or per-search-unit quota, answer."""

from __future__ import annotations

import orjson

from oneapi.plugin import (
    Price,
    RelayContext,
    RelayError,
    RelayMode,
    RelayResult,
    Usage,
    current_services,
)

from ._convert import (
    BadRequest,
    check_request,
    document_texts,
    estimated_search_units,
    normalize_answer,
)

__all__ = ["COHERE", "JINA", "OPENAI_COMPATIBLE", "RerankMode", "SEARCH_UNITS"]

COHERE = 35  # One API's Cohere
JINA = 38  # New API's Jina
# OpenAI-format channel types whose hosts serve /v1/rerank (SiliconFlow, Xinference, vLLM,
# Infinity, TEI behind a Custom or OpenAI-compatible channel): One API's OpenAI, Custom,
# SiliconFlow and OpenAI Compatible.
OPENAI_COMPATIBLE = frozenset({1, 8, 44, 50})
SEARCH_UNITS = "rerank_search_units"  # ctx.extra: what Cohere billed


class RerankMode(RelayMode):
    name = "rerank"
    endpoint = "/rerank"

    def serves(self, channel_type: int) -> bool:
        return channel_type in (COHERE, JINA) or channel_type in OPENAI_COMPATIBLE

    def check(self, ctx: RelayContext) -> None:
        try:
            check_request(ctx.payload or {})
        except BadRequest as exc:
            raise RelayError(400, str(exc), "invalid_request_error", "invalid_value", exc.param) from None
        ctx.is_stream = False  # rerank answers are never streamed

    def prompt_texts(self, ctx: RelayContext) -> list[str]:
        return document_texts(ctx.payload or {})

    def reserve(self, ctx: RelayContext, price: Price) -> int:
        pricing = current_services().pricing
        if price.per_call_usd is not None:
            return pricing.text_quota(price, Usage()) * estimated_search_units(ctx.payload or {})
        return pricing.text_quota(price, Usage(ctx.prompt_tokens))

    def quota(self, ctx: RelayContext, usage: Usage, price: Price) -> int:
        """Per token at the model's ratio; with a per-call price, that price per search unit
        (Cohere's ``billed_units.search_units``; one for an upstream that reports none)."""
        pricing = current_services().pricing
        if price.per_call_usd is not None:
            return pricing.text_quota(price, usage) * int(ctx.extra.get(SEARCH_UNITS) or 1)
        return pricing.text_quota(price, usage)

    def answer(self, ctx: RelayContext, result: RelayResult) -> RelayResult:
        channel = ctx.channel.id if ctx.channel else 0
        try:
            read = normalize_answer(result.json, ctx.payload or {}, ctx.model, f"rerank-{ctx.request_id}",
                                    ctx.prompt_tokens)
        except ValueError as exc:
            raise RelayError(502, f"channel {channel} answered the rerank badly: {exc}", "upstream_error",
                             "bad_response_body", retryable=True) from None
        if read.search_units is not None:
            ctx.extra[SEARCH_UNITS] = read.search_units
        tokens = read.tokens if read.tokens is not None else ctx.prompt_tokens
        return RelayResult(200, orjson.dumps(read.body), "application/json", Usage(tokens), read.body)
