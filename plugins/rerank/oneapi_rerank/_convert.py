"""Pure rerank conversions (no gateway): the client's request checked and sent on, upstream
answers of every flavour (Cohere, Jina, SiliconFlow/Xinference/vLLM) as one answer, their usage.

The request is Cohere's and Jina's (they agree): ``{model, query, documents: [str | {text, ...}],
top_n, return_documents}``. The answer keeps both clients happy: Cohere's ``id``, ``results``
and ``meta``, and Jina's (and New API's) ``model`` and ``usage``::

    {"id": "...", "model": "rerank-v3.5",
     "results": [{"index": 2, "relevance_score": 0.93, "document": {"text": "..."}}],
     "usage": {"prompt_tokens": 41, "total_tokens": 41},
     "meta": {"billed_units": {"search_units": 1}}}
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

__all__ = [
    "DOCS_PER_SEARCH_UNIT",
    "BadRequest",
    "RerankAnswer",
    "check_request",
    "cohere_request",
    "document_texts",
    "error_envelope",
    "estimated_search_units",
    "normalize_answer",
    "search_units_of",
    "tokens_of",
]

DOCS_PER_SEARCH_UNIT = 100  # Cohere: one search unit is a query with up to 100 documents

# Fields Cohere's v1 rerank takes; anything else a client sends stays here.
_COHERE_FIELDS = ("query", "documents", "top_n", "return_documents", "rank_fields", "max_chunks_per_doc",
                  "max_tokens_per_doc")


class BadRequest(ValueError):
    """A malformed rerank request: ``param`` names the field."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def _integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def check_request(payload: dict[str, Any]) -> None:
    """Raise ``BadRequest`` for what no rerank upstream accepts."""
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("query", "query must be a non-empty string")
    documents = payload.get("documents")
    if not isinstance(documents, list) or not documents:
        raise BadRequest("documents", "documents must be a non-empty array of strings or objects")
    if not all(isinstance(doc, str | dict) for doc in documents):
        raise BadRequest("documents", "each document must be a string or an object such as {\"text\": ...}")
    top_n = payload.get("top_n")
    if top_n is not None and not (_integer(top_n) and top_n >= 1):
        raise BadRequest("top_n", "top_n must be a positive integer")
    returns = payload.get("return_documents")
    if returns is not None and not isinstance(returns, bool):
        raise BadRequest("return_documents", "return_documents must be a boolean")


def _text_of(doc: Any) -> str:
    if isinstance(doc, str):
        return doc
    if isinstance(doc, dict):
        text = doc.get("text")
        if isinstance(text, str):
            return text
        return " ".join(str(v) for v in doc.values() if isinstance(v, str))  # Cohere's rank_fields objects
    return ""


def document_texts(payload: dict[str, Any]) -> list[str]:
    """The query and every document's text: what the prompt tokens are counted from."""
    return [str(payload.get("query") or ""), *(_text_of(doc) for doc in payload.get("documents") or ())]


def estimated_search_units(payload: dict[str, Any]) -> int:
    """Cohere's search units for the request before the answer says (documents / 100, rounded up)."""
    return max(1, math.ceil(len(payload.get("documents") or ()) / DOCS_PER_SEARCH_UNIT))


def cohere_request(payload: dict[str, Any], model: str) -> dict[str, Any]:
    """The request as Cohere's v1 rerank takes it (the upstream model, its fields only)."""
    body: dict[str, Any] = {"model": model}
    body.update({k: payload[k] for k in _COHERE_FIELDS if payload.get(k) is not None})
    return body


def tokens_of(data: dict[str, Any]) -> int | None:
    """The tokens an upstream reports for a rerank (None when it reports none).

    Jina / New API: ``usage.total_tokens`` (or ``prompt_tokens``); SiliconFlow, Xinference:
    ``meta.tokens.input_tokens`` (+ ``output_tokens``); Cohere-compatible hosts:
    ``meta.billed_units.input_tokens``. Cohere itself bills search units and reports no tokens.
    """
    usage = data.get("usage")
    if isinstance(usage, dict):
        for key in ("total_tokens", "prompt_tokens"):
            if _integer(usage.get(key)) and usage[key] > 0:
                return int(usage[key])
    meta = data.get("meta")
    if isinstance(meta, dict):
        for section in ("tokens", "billed_units"):
            counts = meta.get(section)
            if isinstance(counts, dict):
                total = sum(int(counts[k]) for k in ("input_tokens", "output_tokens")
                            if _integer(counts.get(k)) and counts[k] > 0)
                if total:
                    return total
    return None


def search_units_of(data: dict[str, Any]) -> int | None:
    """Cohere's ``meta.billed_units.search_units`` (None when absent or zero)."""
    meta = data.get("meta")
    units = (meta.get("billed_units") or {}).get("search_units") if isinstance(meta, dict) else None
    if isinstance(units, int | float) and not isinstance(units, bool) and units > 0:
        return math.ceil(units)
    return None


def _document(doc: Any) -> dict[str, Any]:
    """A document as the answer shows it: ``{"text": ...}`` for a string, an object as it came."""
    if isinstance(doc, dict):
        return doc
    return {"text": doc if isinstance(doc, str) else str(doc)}


class RerankAnswer:
    """An upstream answer read: the client's body, the tokens and search units to bill."""

    def __init__(self, body: dict[str, Any], tokens: int | None, search_units: int | None) -> None:
        self.body = body
        self.tokens = tokens
        self.search_units = search_units


def normalize_answer(data: Any, payload: dict[str, Any], model: str, fallback_id: str,
                     counted_tokens: int) -> RerankAnswer:
    """Any upstream's rerank answer as the gateway's; ValueError when it has no ``results``.

    ``return_documents`` true: every result carries ``document`` (from the request when the
    upstream left it out or sent a bare string); false: none does; not given: as the upstream
    sent it. At most ``top_n`` results, in the upstream's order (best first). The usage is the
    upstream's tokens, else ``counted_tokens`` (the gateway's count of the request).
    """
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError("the answer has no results array")
    documents = payload.get("documents") or []
    returns = payload.get("return_documents")
    results: list[dict[str, Any]] = []
    for item in data["results"]:
        if not isinstance(item, dict) or not _integer(item.get("index")):
            raise ValueError("a result has no index")
        index = int(item["index"])
        score = item.get("relevance_score", item.get("score"))
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise ValueError("a result has no relevance_score")
        result: dict[str, Any] = {"index": index, "relevance_score": float(score)}
        doc = item.get("document")
        if returns is True:
            if not doc and 0 <= index < len(documents):
                doc = documents[index]
            result["document"] = _document(doc)
        elif returns is None and doc:
            result["document"] = _document(doc)
        results.append(result)
    top_n = payload.get("top_n")
    if _integer(top_n) and top_n >= 1:
        results = results[:top_n]
    tokens = tokens_of(data)
    billed = tokens if tokens is not None else counted_tokens
    body: dict[str, Any] = {
        "id": str(data.get("id") or fallback_id),
        "model": model,
        "results": results,
        "usage": {"prompt_tokens": billed, "total_tokens": billed},
    }
    if isinstance(data.get("meta"), dict):
        body["meta"] = data["meta"]
    return RerankAnswer(body, tokens, search_units_of(data))


_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
          403: "permission_error", 404: "invalid_request_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error"}


def error_envelope(status: int, data: Any, raw: bytes) -> dict[str, Any]:
    """An upstream's error body (Cohere ``{"message"}``, Jina/FastAPI ``{"detail"}``, OpenAI
    ``{"error": {...}}``) in OpenAI's shape, typed by the status where the upstream gives no type."""
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return data
    message = ""
    if isinstance(data, dict):
        found = data.get("message") or data.get("detail") or data.get("error")
        if isinstance(found, list):  # FastAPI validation: [{"loc": [...], "msg": "..."}]
            found = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in found)
        message = str(found or "")
    if not message:
        message = raw[:200].decode("utf-8", "replace").strip() or f"upstream status {status}"
    code = "model_not_found" if status == 404 else None
    return {"error": {"message": message, "type": _TYPES.get(status, "upstream_error"), "param": None,
                      "code": code}}
