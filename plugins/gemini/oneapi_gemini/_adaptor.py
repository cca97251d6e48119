"""The adaptor for Gemini channels: OpenAI chat/embeddings in, Gemini's REST API upstream."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import httpx
import orjson

from oneapi.plugin import (
    Adaptor,
    ChannelRecord,
    RelayContext,
    RelayError,
    RelayResult,
    current_services,
    error_from_upstream,
)

from ._convert import Images, image_urls, to_gemini, to_gemini_embeddings
from ._response import blocked_error, convert_stream, embeddings_to_openai, to_openai

__all__ = ["DEFAULT_SAFETY", "DEFAULT_VERSION", "GeminiAdaptor"]

DEFAULT_VERSION = "v1beta"
DEFAULT_SAFETY = "BLOCK_NONE"
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                 404: "not_found_error", 429: "rate_limit_error"}


def api_version(channel: ChannelRecord) -> str:
    """config ``api_version``, else the legacy ``other`` field (One API kept it there), else v1beta."""
    version = str(channel.config.get("api_version") or "").strip() or channel.other.strip()
    return version.strip("/") or DEFAULT_VERSION


class GeminiAdaptor(Adaptor):
    """Speaks Gemini's ``generateContent`` API (Google AI Studio keys).

    URL ``{base}/{api_version}/models/{model}:{action}``; the key goes in the
    ``x-goog-api-key`` header, never in the URL (so it stays out of access logs). Chat uses
    ``generateContent`` or ``streamGenerateContent?alt=sse``; embeddings
    ``batchEmbedContents``. Safety thresholds come from config ``safety_setting``
    (default ``BLOCK_NONE``, like One API's GEMINI_SAFETY_SETTING).
    """

    def request_url(self, ctx: RelayContext) -> str:
        assert ctx.channel is not None
        model = ctx.upstream_model.removeprefix("models/")
        if ctx.mode == "embeddings":
            action = "batchEmbedContents"
        else:
            action = "streamGenerateContent?alt=sse" if ctx.is_stream else "generateContent"
        return f"{self.base_url(ctx.channel)}/{api_version(ctx.channel)}/models/{model}:{action}"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        assert ctx.channel is not None
        headers = {"x-goog-api-key": ctx.channel.key, "Content-Type": "application/json"}
        if ctx.is_stream:
            headers["Accept"] = "text/event-stream"
        return headers

    async def build_body(self, ctx: RelayContext) -> bytes:
        """The Gemini request body (remote images are fetched and inlined first)."""
        assert ctx.channel is not None
        payload = ctx.payload or {}
        model = ctx.upstream_model.removeprefix("models/")
        if ctx.mode == "embeddings":
            return orjson.dumps(to_gemini_embeddings(payload, model))
        images = await self.fetch_images(image_urls(payload))
        safety = str(ctx.channel.config.get("safety_setting") or "").strip() or DEFAULT_SAFETY
        return orjson.dumps(to_gemini(payload, model, images, safety))

    async def fetch_images(self, urls: set[str]) -> Images:
        """Each http(s) image as (mime type, base64), or a 400 naming the one that failed."""

        async def one(url: str) -> tuple[str, tuple[str, str]]:
            try:  # public addresses only: a client's URL never reaches the gateway's own network
                data, content_type = await current_services().fetch_url(url, max_bytes=MAX_IMAGE_BYTES,
                                                                        timeout=20)
            except ValueError as exc:
                raise RelayError(400, f"cannot fetch image {url[:200]}: {exc}", "invalid_request_error",
                                 "invalid_image_url", "messages") from None
            mime = (content_type or "image/jpeg").split(";")[0].strip()
            return url, (mime, base64.b64encode(data).decode())

        return dict(await asyncio.gather(*(one(url) for url in sorted(urls))))

    async def send(self, ctx: RelayContext, timeout: float | None) -> httpx.Response:
        if ctx.mode not in ("chat", "embeddings"):
            raise RelayError(501, f"Gemini channels serve /v1/chat/completions and /v1/embeddings, "
                             f"not {ctx.endpoint}", "invalid_request_error", "unsupported_endpoint",
                             retryable=True)
        return await self.post(self.request_url(ctx), self.request_headers(ctx), await self.build_body(ctx), timeout)

    async def read_response(self, ctx: RelayContext, response: httpx.Response) -> RelayResult:
        body = await response.aread()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            channel = ctx.channel.id if ctx.channel else 0
            snippet = body[:80].decode("utf-8", "replace").strip()
            raise RelayError(502, f"channel {channel} returned a body that is not JSON: {snippet!r}",
                             "upstream_error", "bad_response_body", retryable=True)
        if isinstance(data.get("error"), dict):
            raise self._error(ctx, 502, body)
        if ctx.mode == "embeddings":
            fmt = (ctx.payload or {}).get("encoding_format")
            answer, usage = embeddings_to_openai(data, ctx.model, ctx.prompt_tokens, fmt)
        else:
            if not data.get("candidates"):
                raise blocked_error(data)
            answer, usage = to_openai(data, ctx.model)
        return RelayResult(response.status_code, orjson.dumps(answer), "application/json", usage, answer)

    def stream_response(self, ctx: RelayContext, response: httpx.Response) -> AsyncIterator[bytes]:
        return convert_stream(ctx, response.aiter_bytes())

    async def read_error(self, ctx: RelayContext, response: httpx.Response) -> RelayError:
        return self._error(ctx, response.status_code, await response.aread())

    @staticmethod
    def _error(ctx: RelayContext, status: int, body: bytes) -> RelayError:
        """Google's ``{"error": {"code", "message", "status", "details"}}`` in OpenAI's shape.

        An invalid key is a 400 (reason API_KEY_INVALID, or Google's message starting "API key
        not valid"; never words found inside a message, which may echo the client's input) at
        Google: it is answered as 401, retried elsewhere and may disable the channel. The type follows the HTTP status; the
        code is Google's status string (e.g. RESOURCE_EXHAUSTED).
        """
        err = error_from_upstream(ctx, status, body)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return err
        google = data.get("error") if isinstance(data, dict) else None
        if not isinstance(google, dict):
            return err
        reasons = {str(d.get("reason")) for d in google.get("details") or () if isinstance(d, dict)}
        if "API_KEY_INVALID" in reasons or err.message.lstrip().lower().startswith("api key not valid"):
            err.status, err.retryable, err.disable_channel = 401, True, True
        err.type = _STATUS_TYPES.get(err.status, "upstream_error")
        err.code = google.get("status") or err.code
        return err

