"""``POST /v1/messages``: Anthropic's Messages API served by the gateway, for Claude clients.

Authentication is the gateway's ``sk-`` token in ``x-api-key`` (what Anthropic's SDKs send)
or ``Authorization: Bearer``; ``anthropic-version`` and ``anthropic-beta`` are accepted and
forwarded to Anthropic channels. The rule is more specific than the relay's catch-all
``/v1/<path:rest>``, so werkzeug's router picks it first. ``POST /v1/messages/count_tokens``
is served by ``_count`` (Anthropic's count for Anthropic channels, the gateway's otherwise).
"""

from __future__ import annotations

from quart import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from oneapi.plugin import RelayError, allow_cors, relay_request

from ._count import count_tokens
from ._inbound import AnthropicInbound

__all__ = ["messages_blueprint"]


def messages_blueprint() -> Blueprint:
    bp = Blueprint("anthropic_messages", __name__)

    @bp.post("/v1/messages")
    async def messages() -> Response:
        inbound = AnthropicInbound(request.headers.get("anthropic-version"), request.headers.get("anthropic-beta"))
        return await relay_request("chat", inbound=inbound)

    bp.add_url_rule("/v1/messages/count_tokens", "count_tokens", count_tokens, methods=["POST"])

    @bp.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:  # 413 and the like, in Anthropic's shape
        status = exc.code or 500
        message = "request body too large" if status == 413 else (exc.description or exc.name)
        body = AnthropicInbound().error_body(RelayError(status, message), "")
        return Response(body, status, content_type="application/json")

    allow_cors(bp, "POST, OPTIONS")

    return bp
