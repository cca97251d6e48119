"""``POST /v1/messages/count_tokens``: Anthropic's token counting, served by the gateway.

Authenticated like ``/v1/messages`` (the gateway's ``sk-`` token in ``x-api-key`` or
``Authorization``; the token's model list applies; an admin's ``sk-KEY-CHANNELID`` pins a
channel). The channel that would serve the model answers: an Anthropic channel by
Anthropic's own ``/v1/messages/count_tokens`` (the payload as it is, with the channel's
mapped model and key), any other channel type by the gateway's tokenizer, on the request
converted to OpenAI chat as ``/v1/messages`` would convert it. The answer is Anthropic's
``{"input_tokens": N}``. Counting is free: nothing is held or charged.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from quart import Response, request

from oneapi.plugin import CHANNEL_ENABLED, ChannelRecord, RelayError, current_services

from ._inbound import AnthropicInbound, to_openai_request
from ._native import native_betas

__all__ = ["count_tokens"]

ANTHROPIC_TYPE = 14
DEFAULT_BASE = "https://api.anthropic.com"
DEFAULT_VERSION = "2023-06-01"


def _answer(inbound: AnthropicInbound, err: RelayError) -> Response:
    return Response(inbound.error_body(err, ""), err.status, content_type="application/json")


def _bad(message: str) -> RelayError:
    return RelayError(400, message, "invalid_request_error", "invalid_request")


def _payload(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _bad("There was an issue with your request body: not valid JSON") from None
    if not isinstance(payload, dict):
        raise _bad("There was an issue with your request body: not a JSON object")
    if not isinstance(payload.get("model"), str) or not payload["model"]:
        raise _bad("model: Field required")
    if not isinstance(payload.get("messages"), list):
        raise _bad("messages: Field required")
    return payload


def _config(channel: ChannelRecord, key: str) -> str | None:
    value = channel.config.get(key)
    return None if value in (None, "") else str(value)


async def _upstream(channel: ChannelRecord, payload: dict[str, Any], inbound: AnthropicInbound) -> Response:
    """Anthropic's own count for an Anthropic channel."""
    base = (channel.base_url or DEFAULT_BASE).rstrip("/")
    url = f"{base}/messages/count_tokens" if base.endswith("/v1") else f"{base}/v1/messages/count_tokens"
    body = {**payload, "model": channel.model_mapping.get(payload["model"], payload["model"])}
    headers = {"x-api-key": channel.key, "content-type": "application/json",
               "anthropic-version": inbound.version or _config(channel, "anthropic_version") or DEFAULT_VERSION}
    if beta := native_betas(_config(channel, "anthropic_beta"), inbound.beta):
        headers["anthropic-beta"] = beta
    try:
        answer = await current_services().http.post(url, content=orjson.dumps(body), headers=headers)
    except httpx.HTTPError as exc:
        raise RelayError(502, f"channel {channel.id} did not answer ({type(exc).__name__})", "upstream_error",
                         "upstream_unreachable") from None
    if answer.status_code in (401, 403):  # the channel's key, not the client's: never the client's 401
        raise RelayError(502, f"channel {channel.id} refused the gateway's key", "upstream_error",
                         "upstream_auth_failed")
    content_type = answer.headers.get("content-type") or "application/json"
    return Response(answer.content, answer.status_code, content_type=content_type)


async def _local(model: str, payload: dict[str, Any]) -> Response:
    """The gateway's count, on the request as an OpenAI-format channel would receive it."""
    converted = to_openai_request({**payload, "max_tokens": 1})
    count = await current_services().count_chat_tokens(model, converted["messages"], converted.get("tools"))
    return Response(orjson.dumps({"input_tokens": count}), 200, content_type="application/json")


async def count_tokens() -> Response:
    inbound = AnthropicInbound(request.headers.get("anthropic-version"), request.headers.get("anthropic-beta"))
    services = current_services()
    key = request.headers.get("authorization") or request.headers.get("x-api-key") or ""
    try:
        token, user, pinned = await services.authenticate(key, request.remote_addr or "")
        body = await request.get_data(cache=False)
        payload = _payload(body if isinstance(body, bytes) else body.encode())
        model = payload["model"]
        if token.models is not None and model not in token.models:
            raise RelayError(403, f"this token may not use model {model}", "permission_error", "model_not_allowed")
        if pinned is not None:
            channel = services.channel(pinned)
            if channel is None or channel.status != CHANNEL_ENABLED:
                raise RelayError(403, f"channel {pinned} does not exist or is disabled", "permission_error")
        else:
            channel = services.pick_channel(user.group, model, set())
        if channel is None:
            raise RelayError(503, f"no channel available for model {model} in group {user.group}",
                             "one_api_error", "model_not_available")
        if channel.type == ANTHROPIC_TYPE:
            return await _upstream(channel, payload, inbound)
        return await _local(channel.model_mapping.get(model, model), payload)
    except RelayError as err:
        return _answer(inbound, err)
