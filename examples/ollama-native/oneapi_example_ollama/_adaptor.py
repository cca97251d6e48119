"""The adaptor: how the gateway talks to an Ollama server through its native API."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from oneapi.plugin import (
    Adaptor,
    RelayContext,
    RelayError,
    RelayResult,
    UpstreamTimeouts,
    current_services,
    error_from_upstream,
)

from ._convert import convert_stream, error_message, to_ollama, to_openai

if TYPE_CHECKING:
    import httpx

__all__ = ["KEEP_ALIVE_OPTION", "OllamaAdaptor", "keep_alive_error", "keep_alive_value"]

#: The option (table ``options``, settings page) with how long Ollama keeps a model loaded.
KEEP_ALIVE_OPTION = "OllamaNativeKeepAlive"
_DURATION = re.compile(r"-?\d+|(-?\d+(\.\d+)?(ms|s|m|h))+")
#: Ollama's HTTP status -> OpenAI's error type.
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "invalid_request_error", 429: "rate_limit_error"}


def keep_alive_error(value: str) -> str | None:
    """The option's validator: blank (Ollama's default, 5m), seconds, or a duration like 10m."""
    if not value.strip() or _DURATION.fullmatch(value.strip()):
        return None
    return "a number of seconds or a duration such as 30s, 10m, 1h (negative: keep loaded; 0: unload at once)"


def keep_alive_value(value: str) -> str | int | None:
    """The option as Ollama's ``keep_alive``: None when blank, seconds as a number, else the text."""
    value = value.strip()
    if not value:
        return None
    return int(value) if value.lstrip("-").isdigit() else value


def _num_ctx(config: dict[str, Any]) -> int | None:
    """The channel's ``num_ctx`` config field (blank or 0: the model's own context window)."""
    try:
        return int(config.get("num_ctx") or 0) or None
    except (TypeError, ValueError):
        return None


class OllamaAdaptor(Adaptor):
    """Speaks Ollama's ``POST {base}/api/chat`` for ``/v1/chat/completions``.

    The channel key, when set, goes as ``Authorization: Bearer`` (a local Ollama ignores it; a
    proxy in front of it or ollama.com checks it). The ``OllamaNativeKeepAlive`` option becomes
    ``keep_alive``, the channel's ``num_ctx`` config field ``options.num_ctx``.
    """

    def request_url(self, ctx: RelayContext) -> str:
        assert ctx.channel is not None
        return f"{self.base_url(ctx.channel)}/api/chat"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        assert ctx.channel is not None
        headers = {"Content-Type": "application/json"}
        if ctx.channel.key.strip():
            headers["Authorization"] = f"Bearer {ctx.channel.key.strip()}"
        if ctx.is_stream:
            headers["Accept"] = "application/x-ndjson"
        return headers

    def request_body(self, ctx: RelayContext) -> bytes:
        assert ctx.channel is not None
        keep_alive = keep_alive_value(current_services().options.get(KEEP_ALIVE_OPTION))
        body = to_ollama(ctx.payload or {}, ctx.upstream_model, ctx.is_stream, keep_alive,
                         _num_ctx(ctx.channel.config))
        return json.dumps(body, ensure_ascii=False).encode()

    async def send(self, ctx: RelayContext, timeout: UpstreamTimeouts | float | None) -> httpx.Response:
        if ctx.mode != "chat":  # retryable: another channel may serve this endpoint
            raise RelayError(501, f"Ollama (native) channels serve /v1/chat/completions only, not "
                             f"{ctx.endpoint}", "invalid_request_error", "unsupported_endpoint", retryable=True)
        return await super().send(ctx, timeout)

    def is_stream(self, ctx: RelayContext, response: httpx.Response) -> bool:
        # Ollama streams NDJSON (application/x-ndjson), which stream_response turns into SSE.
        return "ndjson" in response.headers.get("content-type", "")

    async def read_response(self, ctx: RelayContext, response: httpx.Response) -> RelayResult:
        body = await response.aread()
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            channel = ctx.channel.id if ctx.channel else 0
            snippet = body[:80].decode("utf-8", "replace")
            raise RelayError(502, f"channel {channel} returned a body that is not JSON: {snippet!r}",
                             "upstream_error", "bad_response_body", retryable=True)
        if data.get("error"):
            raise self.error(ctx, 502, body)
        answer, usage = to_openai(data, ctx.model, ctx.prompt_tokens)
        return RelayResult(response.status_code, json.dumps(answer, ensure_ascii=False).encode(),
                           "application/json", usage, answer)

    def stream_response(self, ctx: RelayContext, response: httpx.Response) -> AsyncIterator[bytes]:
        return convert_stream(ctx, response.aiter_lines())

    async def read_error(self, ctx: RelayContext, response: httpx.Response) -> RelayError:
        return self.error(ctx, response.status_code, await response.aread())

    @staticmethod
    def error(ctx: RelayContext, status: int, body: bytes) -> RelayError:
        """Ollama's ``{"error": "..."}`` as an OpenAI error with the same status.

        The body is rewritten in OpenAI's shape and handed to the core's ``error_from_upstream``,
        which decides what is retried on another channel and what disables this one. An unknown
        model (404) gets the code ``model_not_found``.
        """
        message = error_message(body)
        if message is None:
            return error_from_upstream(ctx, status, body)
        code = "model_not_found" if status == 404 and "not found" in message else None
        shaped = {"error": {"message": message, "type": _ERROR_TYPES.get(status, "upstream_error"),
                            "param": None, "code": code}}
        return error_from_upstream(ctx, status, json.dumps(shaped).encode())
