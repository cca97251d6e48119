"""``POST /v1/rerank`` (Cohere v1, Jina, New API) and ``/v2/rerank`` (Cohere v2 clients).

Errors carry OpenAI's ``error`` object and Cohere's top-level ``message``, so the SDKs of
either side read them. The rules are more specific than the relay's ``/v1/<path:rest>``.
"""

from __future__ import annotations

import orjson
from quart import Blueprint, Response
from werkzeug.exceptions import HTTPException

from oneapi.plugin import RelayError, allow_cors, relay_request

__all__ = ["rerank_blueprint"]


def _with_message(body: bytes) -> bytes:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return orjson.dumps({"message": data["error"].get("message"), **data})
    return body


def rerank_blueprint() -> Blueprint:
    bp = Blueprint("rerank", __name__)

    async def rerank() -> Response:
        response = await relay_request("rerank")
        if response.status_code >= 400:
            response.set_data(_with_message(await response.get_data(as_text=False)))
        return response

    bp.add_url_rule("/v1/rerank", "rerank_v1", rerank, methods=["POST"])
    bp.add_url_rule("/v2/rerank", "rerank_v2", rerank, methods=["POST"])

    @bp.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = "request body too large" if status == 413 else (exc.description or exc.name)
        body = orjson.dumps(RelayError(status, message, "invalid_request_error").body())
        return Response(_with_message(body), status, content_type="application/json")

    allow_cors(bp, "POST, OPTIONS")
    return bp
