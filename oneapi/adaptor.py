"""The adaptor interface: how the core talks to one kind of upstream.

OpenAI's wire format is the gateway's own language, so the base class speaks it:
an OpenAI-format provider only sets its URL and headers; a provider with another
format converts the request and the response (and stream) in its subclass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from ._http import UpstreamTimeouts, open_stream, relay_timeouts
from .relay.context import ChannelRecord, RelayContext, RelayError, Usage
from .relay.sse import relay_openai_stream, usage_from_json

if TYPE_CHECKING:
    from .registry import ChannelType
    from .settings import Settings

__all__ = ["Adaptor", "RelayResult", "account_failure", "error_from_upstream"]


@dataclass(slots=True)
class RelayResult:
    """A non-stream answer to send to the client."""

    status: int
    body: bytes
    content_type: str = "application/json"
    usage: Usage | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Adaptor:
    """Builds upstream requests for one channel type and reads its answers.

    One instance per channel type per app; methods are async where they do I/O.
    ``native_inbound`` names client formats (``Inbound.name``) this adaptor answers in directly.
    """

    native_inbound: frozenset[str] = frozenset()

    def __init__(self, channel_type: ChannelType, http: httpx.AsyncClient) -> None:
        self.channel_type = channel_type
        self.http = http

    # --- request ---

    def base_url(self, channel: ChannelRecord) -> str:
        return (channel.base_url or self.channel_type.base_url).rstrip("/")

    def request_url(self, ctx: RelayContext) -> str:
        """The upstream URL for this request (OpenAI layout: ``{base}/v1{endpoint}``)."""
        assert ctx.channel is not None
        return f"{self.base_url(ctx.channel)}/v1{ctx.endpoint}"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        assert ctx.channel is not None
        headers = {"Authorization": f"Bearer {ctx.channel.key}"}
        if ctx.payload is not None:
            headers["Content-Type"] = "application/json"
        elif ctx.content_type:
            headers["Content-Type"] = ctx.content_type
        if ctx.is_stream:
            headers["Accept"] = "text/event-stream"
        return headers

    def request_body(self, ctx: RelayContext) -> bytes:
        """The body to send: the client's JSON with the upstream model, or the raw body."""
        if ctx.payload is None:
            return ctx.body
        payload = ctx.payload
        ask_usage = self.wants_stream_usage(ctx)
        if ctx.upstream_model != ctx.model or ask_usage:
            payload = dict(payload)
            payload["model"] = ctx.upstream_model
            if ask_usage:
                payload["stream_options"] = {**(payload.get("stream_options") or {}), "include_usage": True}
            return orjson.dumps(payload)
        return ctx.raw_body or orjson.dumps(payload)

    def is_stream(self, ctx: RelayContext, response: httpx.Response) -> bool:
        """Whether a successful answer to a streaming request is a stream (its chunks go to
        ``stream_response``); by default when it is Server-Sent Events."""
        return "text/event-stream" in response.headers.get("content-type", "")

    def wants_stream_usage(self, ctx: RelayContext) -> bool:
        """Whether to ask the upstream for a final usage chunk (OpenAI's stream_options)."""
        return False

    def upstream_timeouts(self, settings: Settings, channel: ChannelRecord | None) -> UpstreamTimeouts:
        """How long a relayed call to ``channel`` waits (what the relay passes to ``send``):
        the channel's config ``timeout``/``stream_timeout``, else RELAY_TIMEOUT/STREAMING_TIMEOUT,
        else 300 s to the response headers and 120 s per read of the body."""
        return relay_timeouts(settings, channel)

    async def send(self, ctx: RelayContext, timeout: float | UpstreamTimeouts | None) -> httpx.Response:
        """Send the request; the response body is not read yet.

        ``timeout``: an ``UpstreamTimeouts`` (first byte, then idle per body read), or seconds
        for the connect and each socket read, or None for the shared client's default."""
        return await self.post(self.request_url(ctx), self.request_headers(ctx), self.request_body(ctx), timeout)

    async def post(self, url: str, headers: dict[str, str], body: bytes,
                   timeout: float | UpstreamTimeouts | None) -> httpx.Response:
        """POST to the upstream on the shared client; the response body is not read yet."""
        return await open_stream(self.http, "POST", url, headers=headers, content=body, timeout=timeout)

    # --- response ---

    async def read_response(self, ctx: RelayContext, response: httpx.Response) -> RelayResult:
        """A successful non-stream answer in OpenAI's format, with its usage."""
        body = await response.aread()
        content_type = response.headers.get("content-type", "application/json")
        if "json" not in content_type:
            return RelayResult(response.status_code, body, content_type)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise bad_upstream_body(ctx, body) from None
        usage = usage_from_json(data.get("usage")) if isinstance(data, dict) else None
        return RelayResult(response.status_code, body, "application/json", usage, data)

    def stream_response(self, ctx: RelayContext, response: httpx.Response) -> AsyncIterator[bytes]:
        """A successful stream as OpenAI-format SSE bytes, whole events (one or several per
        chunk); sets ``ctx.usage`` when known."""
        strip = self.wants_stream_usage(ctx) and not ctx.client_wants_usage
        return relay_openai_stream(ctx, response.aiter_bytes(), strip)

    async def read_error(self, ctx: RelayContext, response: httpx.Response) -> RelayError:
        """The upstream's error answer as a RelayError in OpenAI's shape."""
        body = await response.aread()
        return error_from_upstream(ctx, response.status_code, body)

    # --- channel management ---

    async def fetch_balance(self, channel: ChannelRecord) -> float:
        """The channel's remaining balance in USD."""
        raise RelayError(501, f"balance is not supported for channel type {self.channel_type.name}")

    def test_request(self, model: str) -> dict[str, Any]:
        """The chat request a channel test sends."""
        return {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}


# What may disable a channel (AutomaticDisableChannelEnabled): failures of the channel's account
# (its key, its money, its standing), never of the request. A 4xx about the request (400, 404,
# 413, 422, ...) often echoes the client's input ("Invalid value: 'balance'"), so its message is
# never searched for words: there only the upstream's own error code or type counts.
ACCOUNT_STATUSES = frozenset({401, 402, 403})
ACCOUNT_TYPES = frozenset({"insufficient_quota", "authentication_error", "permission_error", "forbidden",
                           "billing_error"})
ACCOUNT_CODES = frozenset({"invalid_api_key", "account_deactivated", "insufficient_quota",
                           "billing_hard_limit_reached", "billing_not_active", "access_terminated",
                           "organization_deactivated", "api_key_expired"})
# Searched only in answers whose status is about the account's limits (429), where upstreams
# without such codes say it in words.
ACCOUNT_MESSAGES = (
    "your access was terminated",
    "violation of our policies",
    "your credit balance is too low",
    "organization has been disabled",
    "organization has been restricted",
    "insufficient balance",
    "insufficient account balance",
    "api key expired",
    "已欠费",
    "余额不足",
)
_WORDS_STATUSES = frozenset({429})


def account_failure(status: int, etype: str, code: object, message: str) -> bool:
    """Whether an upstream's error answer says the channel's account failed (a bad or expired
    key, no money, banned), so that the channel may be disabled; never for an error about the
    request, whatever its message says."""
    if status in ACCOUNT_STATUSES or etype in ACCOUNT_TYPES or (isinstance(code, str) and code in ACCOUNT_CODES):
        return True
    if status in _WORDS_STATUSES:
        lowered = message.lower()
        return any(words in lowered for words in ACCOUNT_MESSAGES)
    return False


def bad_upstream_body(ctx: RelayContext, body: bytes) -> RelayError:
    channel = ctx.channel.id if ctx.channel else 0
    snippet = body[:80].decode("utf-8", "replace").strip()
    return RelayError(
        502,
        f"channel {channel} returned a body that is not JSON: {snippet!r}",
        "upstream_error",
        "bad_response_body",
        retryable=True,
    )


def error_from_upstream(ctx: RelayContext, status: int, body: bytes) -> RelayError:
    """Turn an upstream error answer into a RelayError, marking retryable and fatal ones."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        if data is None and body.strip()[:1] == b"<":
            err = bad_upstream_body(ctx, body)
            err.status = status if status >= 500 else 502
            err.retryable = True
            return err
        message = body[:200].decode("utf-8", "replace") if body else f"upstream status {status}"
        err = {"message": message or f"upstream status {status}", "type": "upstream_error"}
    message = str(err.get("message") or f"upstream status {status}")
    etype = str(err.get("type") or "upstream_error")
    code = err.get("code")
    disable = account_failure(status, etype, code, message)
    retryable = status not in (400, 413, 422)
    return RelayError(
        status, message, etype, code, err.get("param"), retryable=retryable, disable_channel=disable
    )
