"""POST /v1/rerank through a real gateway to fake Cohere, Jina and SiliconFlow-style upstreams."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from tests.conftest import wait_logs
from tests.fakes.rerank_upstream import FakeRerank, pair_tokens
from tests.gateway import api

pytestmark = pytest.mark.timeout(60)

JINA_MODEL = "jina-reranker-v2-base-multilingual"
SF_MODEL = "BAAI/bge-reranker-v2-m3"
TOKEN_COHERE = "my-cohere-rerank"  # a Cohere model priced per token (by ratio)
QUERY = "capital of france"
DOCS = ["Berlin is the capital of Germany", "Paris is the capital of France", "France has wine"]


@pytest.fixture(scope="module")
def relay(plugin_relay: Any) -> Any:
    return plugin_relay("rerank", prices={JINA_MODEL: 2, SF_MODEL: 1, TOKEN_COHERE: 3})


@pytest.fixture(scope="module")
def fakes(relay: Any) -> dict[str, FakeRerank]:
    cohere = relay.fake(FakeRerank, flavour="cohere", expected_key="co-key")
    jina = relay.fake(FakeRerank, flavour="jina", expected_key="jina-key")
    sf = relay.fake(FakeRerank, flavour="siliconflow", expected_key="sf-key")
    admin = relay.admin
    admin.channel(cohere.base_url, f"rerank-v3.5,{TOKEN_COHERE}", type=35, key="co-key")
    admin.channel(jina.base_url, JINA_MODEL, type=38, key="jina-key")
    admin.channel(sf.base_url, SF_MODEL, type=8, key="sf-key",
                  model_mapping='{"' + SF_MODEL + '": "bge-upstream"}')
    admin.channel("http://127.0.0.1:9", "rr-on-claude", type=14, key="x")
    return {"cohere": cohere, "jina": jina, "sf": sf}


def rerank(relay: Any, token: dict[str, Any], path: str = "/v1/rerank", **body: Any) -> httpx.Response:
    return httpx.post(relay.gateway.base_url + path, headers={"Authorization": "Bearer sk-" + token["key"]},
                      json=body, timeout=30)


def one_log(relay: Any, token: dict[str, Any]) -> dict[str, Any]:
    logs = wait_logs(relay.admin, token["name"], 1)
    assert len(logs) == 1, logs
    return logs[0]


def test_jina_results_top_n_documents_and_token_billing(relay, fakes) -> None:
    token = relay.token()
    r = rerank(relay, token, model=JINA_MODEL, query=QUERY, documents=DOCS, top_n=2, return_documents=True)
    assert r.status_code == 200, r.text
    data = r.json()
    assert [x["index"] for x in data["results"]] == [1, 0]
    assert data["results"][0]["document"] == {"text": DOCS[1]}
    assert data["results"][0]["relevance_score"] == 1.0
    tokens = pair_tokens(QUERY, DOCS)
    assert data["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens} and data["model"] == JINA_MODEL
    sent = fakes["jina"].requests[-1]
    assert sent.path == "/v1/rerank" and sent.headers["authorization"] == "Bearer jina-key"
    assert sent.json["top_n"] == 2 and sent.json["documents"] == DOCS
    log = one_log(relay, token)
    assert log["quota"] == math.ceil(2 * tokens) and log["prompt_tokens"] == tokens
    assert log["model_name"] == JINA_MODEL
    relay.admin.settled(relay.owner["user"]["id"])
    row = api(relay.owner["session"], "GET", "/api/token/search", params={"keyword": token["name"]})[0]
    assert row["used_quota"] == log["quota"] and row["remain_quota"] == 5_000_000 - log["quota"]


def test_return_documents_false_strips_and_unset_keeps_the_upstreams(relay, fakes) -> None:
    token = relay.token()
    off = rerank(relay, token, model=JINA_MODEL, query=QUERY, documents=DOCS, return_documents=False).json()
    assert len(off["results"]) == 3 and all("document" not in x for x in off["results"])
    unset = rerank(relay, token, model=JINA_MODEL, query=QUERY, documents=DOCS).json()  # Jina returns them
    assert all("document" in x for x in unset["results"])


def test_cohere_billed_per_search_unit_with_the_call_price(relay, fakes) -> None:
    fakes["cohere"].search_units = 3
    try:
        token = relay.token()
        r = rerank(relay, token, "/v2/rerank", model="rerank-v3.5", query=QUERY, documents=[{"text": d} for d in DOCS],
                   top_n=1, return_documents=True, stream=True)
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["results"] == [{"index": 1, "relevance_score": 1.0, "document": {"text": DOCS[1]}}]
        assert data["meta"]["billed_units"]["search_units"] == 3 and data["id"] == "cohere-rr-1"
        sent = fakes["cohere"].requests[-1]
        assert sent.path == "/v1/rerank" and sent.headers["authorization"] == "Bearer co-key"
        assert set(sent.json) == {"model", "query", "documents", "top_n", "return_documents"}  # no "stream"
        log = one_log(relay, token)
        assert log["quota"] == 3 * 1000  # $0.002 per search unit, 500,000 quota per USD
    finally:
        fakes["cohere"].search_units = None


def test_cohere_priced_per_token_counts_the_request(relay, fakes) -> None:
    token = relay.token()
    r = rerank(relay, token, model=TOKEN_COHERE, query=QUERY, documents=DOCS)
    assert r.status_code == 200, r.text
    counted = r.json()["usage"]["prompt_tokens"]
    assert counted > 0 and "document" not in r.json()["results"][0]
    log = one_log(relay, token)
    assert log["prompt_tokens"] == counted and log["quota"] == 3 * counted


def test_openai_compatible_host_on_a_custom_channel(relay, fakes) -> None:
    token = relay.token()
    r = rerank(relay, token, model=SF_MODEL, query=QUERY, documents=DOCS, top_n=2, return_documents=True)
    assert r.status_code == 200, r.text
    sent = fakes["sf"].requests[-1]
    assert sent.path == "/v1/rerank" and sent.json["model"] == "bge-upstream"  # the channel's mapping
    tokens = pair_tokens(QUERY, DOCS)
    assert r.json()["usage"]["total_tokens"] == tokens and r.json()["model"] == SF_MODEL
    assert one_log(relay, token)["quota"] == tokens


def test_the_model_chooses_the_channel(relay, fakes) -> None:
    token = relay.token()
    before = {name: len(f.requests) for name, f in fakes.items()}
    for model in (JINA_MODEL, "rerank-v3.5", SF_MODEL):
        assert rerank(relay, token, model=model, query=QUERY, documents=DOCS).status_code == 200
    assert {name: len(f.requests) - before[name] for name, f in fakes.items()} == {"cohere": 1, "jina": 1, "sf": 1}


def test_model_allow_list(relay, fakes) -> None:
    limited = relay.admin.token(relay.owner["user"], models=JINA_MODEL)
    r = rerank(relay, limited, model="rerank-v3.5", query=QUERY, documents=DOCS)
    assert r.status_code == 403 and r.json()["error"]["code"] == "model_not_allowed"
    assert "rerank-v3.5" in r.json()["message"]
    assert rerank(relay, limited, model=JINA_MODEL, query=QUERY, documents=DOCS).status_code == 200


@pytest.mark.parametrize(("body", "param"), [
    ({"documents": DOCS}, "query"),
    ({"query": QUERY, "documents": []}, "documents"),
    ({"query": QUERY, "documents": [1, 2]}, "documents"),
    ({"query": QUERY, "documents": DOCS, "top_n": 0}, "top_n"),
    ({"query": QUERY, "documents": DOCS, "return_documents": "yes"}, "return_documents"),
])
def test_malformed_requests_are_refused_before_any_upstream(relay, fakes, body, param) -> None:
    before = len(fakes["jina"].requests)
    r = rerank(relay, relay.token(), model=JINA_MODEL, **body)
    assert r.status_code == 400 and r.json()["error"]["param"] == param and r.json()["message"]
    assert len(fakes["jina"].requests) == before


def test_upstream_errors_in_the_clients_shape_and_not_charged(relay, fakes) -> None:
    token = relay.token()
    fakes["cohere"].fail(400, "invalid request: documents too long", times=1)
    r = rerank(relay, token, model="rerank-v3.5", query=QUERY, documents=DOCS)
    assert r.status_code == 400
    assert "documents too long" in r.json()["error"]["message"] and "documents too long" in r.json()["message"]
    fakes["jina"].fail(401, "Unauthorized: invalid key", times=1)
    r = rerank(relay, token, model=JINA_MODEL, query=QUERY, documents=DOCS)
    assert r.status_code in (401, 503) and r.json()["error"]["message"]
    relay.admin.settled(relay.owner["user"]["id"])
    assert wait_logs(relay.admin, token["name"], 1, timeout=1) == []


def test_a_channel_type_that_does_not_serve_rerank_is_skipped(relay, fakes) -> None:
    relay.admin.option("ModelRatio", '{"' + JINA_MODEL + '": 2, "' + SF_MODEL + '": 1, "' + TOKEN_COHERE
                       + '": 3, "rr-on-claude": 1}')
    r = rerank(relay, relay.token(), model="rr-on-claude", query=QUERY, documents=DOCS)
    assert r.status_code == 501 and r.json()["error"]["code"] == "unsupported_endpoint", r.text
