"""A fake rerank upstream on 127.0.0.1: Cohere, Jina or an OpenAI-compatible host (SiliconFlow).

``FakeRerank(flavour=...)`` serves ``POST /v1/rerank`` (and Cohere's ``/v2/rerank``) and, for
Jina, ``/v1/embeddings``. Scores are deterministic: the share of the query's words found in the
document (ties keep document order), best first, at most ``top_n``. Documents are returned as
``{"text": ...}`` when ``return_documents`` is true (Jina: unless it is false). Usage:

- cohere: ``meta.billed_units.search_units`` = ``search_units`` or ceil(documents / 100), no tokens;
- jina: ``usage.total_tokens`` = Σ over documents of (query words + document words);
- siliconflow: the same count in ``meta.tokens.input_tokens`` and ``meta.billed_units.input_tokens``.

Errors in each provider's shape: Cohere ``{"message"}``, Jina ``{"detail"}``, SiliconFlow
``{"code", "message", "data"}``. ``expected_key`` checks ``Authorization: Bearer``.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes._server import REC, UpstreamFake

_KNOBS: dict[str, Any] = {"flavour": "cohere", "expected_key": None, "search_units": None,
                          "fail_status": None, "fail_body": None, "fail_times": None}


def text_of(doc: Any) -> str:
    return doc if isinstance(doc, str) else str(doc.get("text", ""))


def words(text: str) -> list[str]:
    return text.lower().split()


def score(query: str, doc: str) -> float:
    q = set(words(query))
    return round(len(q & set(words(doc))) / max(len(q), 1), 4)


def pair_tokens(query: str, docs: list[Any]) -> int:
    return sum(len(words(query)) + len(words(text_of(d))) for d in docs)


class FakeRerank(UpstreamFake):
    flavour: str
    expected_key: str | None
    search_units: int | None
    _knobs = _KNOBS

    def _routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/rerank", self._rerank)
        router.add_post("/v2/rerank", self._rerank)
        router.add_post("/v1/embeddings", self._embeddings)

    def error(self, status: int, message: str) -> web.Response:
        if self.flavour == "cohere":
            body: dict[str, Any] = {"id": "err-1", "message": message}
        elif self.flavour == "jina":
            body = {"detail": message}
        else:
            body = {"code": 20015, "message": message, "data": None}
        return web.json_response(body, status=status)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        await self._record(request)
        if self.expected_key is not None and request.headers.get("Authorization") != f"Bearer {self.expected_key}":
            return self.error(401, "invalid api token")
        if (taken := self._take_failure()) is not None:
            status, body = taken
            if isinstance(body, dict):
                return web.json_response(body, status=status)
            return self.error(status, str(body or f"failure {status}"))
        return await handler(request)

    async def _rerank(self, request: web.Request) -> web.Response:
        body = request[REC].json
        if not isinstance(body, dict) or not body.get("model"):
            return self.error(400, "invalid request: model is required")
        query, docs = body.get("query"), body.get("documents")
        if not isinstance(query, str) or not query:
            return self.error(400, "invalid request: query must not be empty")
        if not isinstance(docs, list) or not docs:
            return self.error(400, "invalid request: documents must not be empty")
        ranked = sorted(range(len(docs)), key=lambda i: -score(query, text_of(docs[i])))
        top_n = body.get("top_n")
        if isinstance(top_n, int):
            ranked = ranked[:top_n]
        default_docs = self.flavour == "jina"
        returns = body.get("return_documents", default_docs)
        results = []
        for i in ranked:
            result: dict[str, Any] = {"index": i, "relevance_score": score(query, text_of(docs[i]))}
            if returns:
                result["document"] = {"text": text_of(docs[i])}
            results.append(result)
        tokens = pair_tokens(query, docs)
        if self.flavour == "cohere":
            units = self.search_units or math.ceil(len(docs) / 100)
            return web.json_response({"id": "cohere-rr-1", "results": results, "meta": {
                "api_version": {"version": "1"}, "billed_units": {"search_units": units}}})
        if self.flavour == "jina":
            return web.json_response({"model": body["model"], "usage": {"total_tokens": tokens},
                                      "results": results})
        return web.json_response({"id": "sf-rr-1", "results": results, "meta": {
            "billed_units": {"input_tokens": tokens, "output_tokens": 0, "search_units": 0},
            "tokens": {"input_tokens": tokens, "output_tokens": 0}}})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = request[REC].json or {}
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(len(inputs))]
        tokens = sum(len(words(str(t))) for t in inputs)
        return web.json_response({"model": body.get("model"), "object": "list", "data": data,
                                  "usage": {"total_tokens": tokens, "prompt_tokens": tokens}})
