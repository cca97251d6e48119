"""Cohere (type 35) and Jina (type 38) channels: rerank, and Jina's OpenAI-format embeddings."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from oneapi.plugin import Adaptor, RelayContext, RelayError, UpstreamTimeouts, error_from_upstream

from ._convert import cohere_request, error_envelope

__all__ = ["CohereAdaptor", "JinaAdaptor", "is_rerank"]


def is_rerank(ctx: RelayContext) -> bool:
    """A rerank request: the mode's, or a channel test's rerank payload."""
    payload = ctx.payload or {}
    return ctx.mode == "rerank" or ("query" in payload and "documents" in payload)


class _RerankAdaptor(Adaptor):
    serves_modes: tuple[str, ...] = ("rerank",)

    def request_url(self, ctx: RelayContext) -> str:
        assert ctx.channel is not None
        path = "/rerank" if is_rerank(ctx) else ctx.endpoint
        return f"{self.base_url(ctx.channel)}/v1{path}"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        assert ctx.channel is not None
        return {"Authorization": f"Bearer {ctx.channel.key}", "Content-Type": "application/json",
                "Accept": "application/json"}

    async def send(self, ctx: RelayContext, timeout: float | UpstreamTimeouts | None) -> httpx.Response:
        if not is_rerank(ctx) and ctx.mode not in self.serves_modes:
            raise RelayError(501, f"{self.channel_type.name} channels do not serve /v1{ctx.endpoint}",
                             "invalid_request_error", "unsupported_endpoint", retryable=True)
        return await super().send(ctx, timeout)

    async def read_error(self, ctx: RelayContext, response: httpx.Response) -> RelayError:
        raw = await response.aread()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        return error_from_upstream(ctx, response.status_code, orjson.dumps(error_envelope(response.status_code,
                                                                                          data, raw)))

    def test_request(self, model: str) -> dict[str, Any]:
        return {"model": model, "query": "hi", "documents": ["hi"], "top_n": 1}


class CohereAdaptor(_RerankAdaptor):
    """Cohere's v1 rerank (``{base}/v1/rerank``); its errors ``{"message"}`` in OpenAI's shape."""

    def request_body(self, ctx: RelayContext) -> bytes:
        if is_rerank(ctx):
            return orjson.dumps(cohere_request(ctx.payload or {}, ctx.upstream_model))
        return super().request_body(ctx)


class JinaAdaptor(_RerankAdaptor):
    """Jina's rerank (the client's request as it is) and OpenAI-format ``/v1/embeddings``."""

    serves_modes = ("rerank", "embeddings")
