"""The pure rerank conversions, no gateway."""

from __future__ import annotations

import pytest
from oneapi_rerank._convert import (
    BadRequest,
    check_request,
    cohere_request,
    document_texts,
    error_envelope,
    estimated_search_units,
    normalize_answer,
    tokens_of,
)

PAYLOAD = {"query": "q", "documents": ["a", {"text": "b"}, "c"]}


def test_check_request_names_the_field() -> None:
    check_request(PAYLOAD)
    with pytest.raises(BadRequest) as bad:
        check_request({"query": "q", "documents": "a"})
    assert bad.value.param == "documents"
    with pytest.raises(BadRequest):
        check_request({**PAYLOAD, "top_n": True})


def test_texts_units_and_cohere_fields() -> None:
    assert document_texts(PAYLOAD) == ["q", "a", "b", "c"]
    assert estimated_search_units({"documents": ["x"] * 101}) == 2
    assert cohere_request({**PAYLOAD, "stream": True, "top_n": 2}, "up") == {
        "model": "up", "query": "q", "documents": PAYLOAD["documents"], "top_n": 2}


def test_tokens_from_every_flavour() -> None:
    assert tokens_of({"usage": {"total_tokens": 9}}) == 9
    assert tokens_of({"meta": {"tokens": {"input_tokens": 7, "output_tokens": 1}}}) == 8
    assert tokens_of({"meta": {"billed_units": {"search_units": 1}}}) is None


def test_normalize_fills_documents_truncates_and_counts() -> None:
    data = {"results": [{"index": 1, "relevance_score": 0.9, "document": "b"}, {"index": 0, "relevance_score": 0.1}],
            "meta": {"billed_units": {"search_units": 2}}}
    read = normalize_answer(data, {**PAYLOAD, "return_documents": True, "top_n": 1}, "m", "id-1", 5)
    assert read.body["results"] == [{"index": 1, "relevance_score": 0.9, "document": {"text": "b"}}]
    assert read.body["usage"] == {"prompt_tokens": 5, "total_tokens": 5} and read.body["id"] == "id-1"
    assert read.search_units == 2 and read.tokens is None
    with pytest.raises(ValueError):
        normalize_answer({"data": []}, PAYLOAD, "m", "id", 0)


def test_error_envelopes() -> None:
    assert error_envelope(400, {"message": "bad"}, b"")["error"]["message"] == "bad"
    detail = error_envelope(422, {"detail": [{"msg": "field required"}]}, b"")["error"]
    assert detail["message"] == "field required" and detail["type"] == "invalid_request_error"
    assert error_envelope(404, None, b"nope")["error"]["code"] == "model_not_found"
