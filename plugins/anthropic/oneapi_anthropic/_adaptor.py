"""The adaptor for Anthropic channels: OpenAI chat in, Messages API upstream, OpenAI out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from oneapi.plugin import Adaptor, RelayContext, RelayError, RelayResult, error_from_upstream

from ._convert import to_anthropic, to_openai, usage_of
from ._models import default_max_tokens
from ._native import block_texts, native_betas, native_body, native_stream
from ._stream import convert_stream
from ._structured import json_tool_of

__all__ = ["ANTHROPIC_VERSION", "AnthropicAdaptor"]

ANTHROPIC_VERSION = "2023-06-01"
OUT_OF_CREDIT = "your credit balance is too low"  # how Anthropic's 400 for an account without credit starts


def _config(ctx: RelayContext, key: str) -> Any:
    assert ctx.channel is not None
    value = ctx.channel.config.get(key)
    return None if value in (None, "") else value


class AnthropicAdaptor(Adaptor):
    """Speaks Anthropic's Messages API (``POST {base}/v1/messages``) for OpenAI chat requests.

    Headers: ``x-api-key`` (the channel key), ``anthropic-version`` (config
    ``anthropic_version``, default 2023-06-01) and, when configured, ``anthropic-beta``.
    ``max_tokens`` is the client's, else config ``max_tokens``, else a per-model default.

    Claude-format clients (``/v1/messages``, inbound ``anthropic``) are relayed natively: their
    payload goes upstream as it is and the answer comes back unchanged (``_native``); their
    ``anthropic-version`` wins over the channel's, their ``anthropic-beta`` adds to it.
    """

    native_inbound = frozenset({"anthropic"})

    def _native(self, ctx: RelayContext) -> Any:
        """The client's inbound format object when this request is relayed natively."""
        inbound = ctx.inbound
        return inbound if inbound is not None and inbound.name in self.native_inbound else None

    def request_url(self, ctx: RelayContext) -> str:
        assert ctx.channel is not None
        base = self.base_url(ctx.channel)
        return f"{base}/messages" if base.endswith("/v1") else f"{base}/v1/messages"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        assert ctx.channel is not None
        inbound = self._native(ctx)
        version = getattr(inbound, "version", None) or _config(ctx, "anthropic_version") or ANTHROPIC_VERSION
        headers = {"x-api-key": ctx.channel.key, "anthropic-version": str(version),
                   "Content-Type": "application/json"}
        if beta := native_betas(_config(ctx, "anthropic_beta"), getattr(inbound, "beta", None)):
            headers["anthropic-beta"] = beta
        if ctx.is_stream:
            headers["Accept"] = "text/event-stream"
        return headers

    def request_body(self, ctx: RelayContext) -> bytes:
        if self._native(ctx):
            return native_body(ctx)
        configured = _config(ctx, "max_tokens")
        try:
            max_tokens = int(configured) if configured is not None else 0
        except (TypeError, ValueError):
            max_tokens = 0
        max_tokens = max_tokens if max_tokens > 0 else default_max_tokens(ctx.upstream_model)
        return orjson.dumps(to_anthropic(ctx.payload or {}, ctx.upstream_model, max_tokens))

    async def send(self, ctx: RelayContext, timeout: float | None) -> httpx.Response:
        if ctx.mode != "chat":
            raise RelayError(501, f"Anthropic channels serve only /v1/chat/completions, not {ctx.endpoint}",
                             "invalid_request_error", "unsupported_endpoint", retryable=True)
        return await super().send(ctx, timeout)

    async def read_response(self, ctx: RelayContext, response: httpx.Response) -> RelayResult:
        body = await response.aread()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or data.get("type") == "error":
            if isinstance(data, dict):
                raise self._error(ctx, 502, body)
            channel = ctx.channel.id if ctx.channel else 0
            snippet = body[:80].decode("utf-8", "replace").strip()
            raise RelayError(502, f"channel {channel} returned a body that is not JSON: {snippet!r}",
                             "upstream_error", "bad_response_body", retryable=True)
        if self._native(ctx):  # the client speaks Anthropic: its body as it is
            ctx.completion_text.extend(block_texts(data.get("content")))
            return RelayResult(response.status_code, body, "application/json", usage_of(data.get("usage") or {}))
        answer, usage = to_openai(data, ctx.model, json_tool_of(ctx.payload or {}, ctx.upstream_model))
        return RelayResult(response.status_code, orjson.dumps(answer), "application/json", usage, answer)

    def stream_response(self, ctx: RelayContext, response: httpx.Response) -> AsyncIterator[bytes]:
        if self._native(ctx):
            return native_stream(ctx, response.aiter_bytes())
        return convert_stream(ctx, response.aiter_bytes(), json_tool_of(ctx.payload or {}, ctx.upstream_model))

    async def read_error(self, ctx: RelayContext, response: httpx.Response) -> RelayError:
        err = self._error(ctx, response.status_code, await response.aread())
        if response.status_code == 529 and self._native(ctx):
            err.status = 529  # Claude clients know 529 (overloaded_error) and retry it
        return err

    @staticmethod
    def _error(ctx: RelayContext, status: int, body: bytes) -> RelayError:
        """Anthropic's ``{"type": "error", "error": {"type", "message"}}`` in OpenAI's shape.

        The error type doubles as the code; 529 (overloaded) is answered as 503. An account
        out of credit is a 400 at Anthropic: it may disable the channel when the message is
        Anthropic's own sentence (it starts with it; a client's input never comes first).
        """
        err = error_from_upstream(ctx, status, body)
        if status == 400 and err.message.lstrip().lower().startswith(OUT_OF_CREDIT):
            err.disable_channel = True
        if err.code is None and err.type != "upstream_error":
            err.code = err.type
        if status == 529:
            err.status, err.retryable = 503, True
        return err
