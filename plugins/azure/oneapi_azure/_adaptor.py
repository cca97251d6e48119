"""The adaptor for Azure OpenAI: OpenAI's wire format at Azure's deployment URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from oneapi.plugin import Adaptor, ChannelRecord, RelayContext, RelayError, error_from_upstream

__all__ = ["DEFAULT_API_VERSION", "AzureAdaptor", "AzureRelayError", "api_version", "deployment"]

DEFAULT_API_VERSION = "2024-10-21"
STREAM_USAGE_SINCE = "2024-09-01"  # first api-version that accepts stream_options
_EXTRA_KEYS = ("innererror",)  # Azure fields worth passing on


def api_version(channel: ChannelRecord) -> str:
    """config ``api_version``, else the legacy ``other`` field (One API kept it there), else the default."""
    return str(channel.config.get("api_version") or "").strip() or channel.other.strip() or DEFAULT_API_VERSION


def deployment(ctx: RelayContext) -> str:
    """The deployment: a model the channel maps explicitly is used as it is; any other
    model name loses its dots, as Azure deployment names cannot have them (gpt-3.5-turbo →
    gpt-35-turbo)."""
    assert ctx.channel is not None
    if ctx.model in ctx.channel.model_mapping:
        return ctx.upstream_model
    return ctx.upstream_model.replace(".", "")


def _stream_options_ok(ctx: RelayContext) -> bool:
    """Whether the channel's api-version accepts ``stream_options`` (2024-09-01 and later, v1)."""
    version = api_version(ctx.channel) if ctx.channel is not None else ""
    return version == "v1" or version[:10] >= STREAM_USAGE_SINCE


class AzureRelayError(RelayError):
    """A RelayError that also answers Azure's extra error fields (``innererror`` with the
    content filter results), so clients see why a prompt was filtered."""

    def __init__(self, base: RelayError, extra: dict[str, Any]) -> None:
        super().__init__(base.status, base.message, base.type, base.code, base.param,
                         retryable=base.retryable, disable_channel=base.disable_channel)
        self.extra = extra

    def body(self, request_id: str = "") -> dict[str, Any]:
        body = super().body(request_id)
        body["error"].update(self.extra)
        return body


class AzureAdaptor(Adaptor):
    """Azure OpenAI: ``{base}/openai/deployments/{deployment}{endpoint}?api-version={v}`` with
    the key in the ``api-key`` header. api-version ``v1`` selects Azure's v1 API
    (``{base}/openai/v1{endpoint}``, model in the body, no api-version)."""

    def request_url(self, ctx: RelayContext) -> str:
        assert ctx.channel is not None
        base, version = self.base_url(ctx.channel), api_version(ctx.channel)
        if base.endswith("/openai"):
            base = base[: -len("/openai")]
        if version == "v1":
            return f"{base}/openai/v1{ctx.endpoint}"
        return f"{base}/openai/deployments/{deployment(ctx)}{ctx.endpoint}?api-version={version}"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        assert ctx.channel is not None
        headers = super().request_headers(ctx)
        del headers["Authorization"]
        headers["api-key"] = ctx.channel.key
        return headers

    def request_body(self, ctx: RelayContext) -> bytes:
        """OpenAI's body; ``stream_options`` is dropped for api-versions that refuse it."""
        payload = ctx.payload
        if payload is not None and "stream_options" in payload and not _stream_options_ok(ctx):
            return orjson.dumps({**{k: v for k, v in payload.items() if k != "stream_options"},
                                 "model": ctx.upstream_model})
        return super().request_body(ctx)

    def wants_stream_usage(self, ctx: RelayContext) -> bool:
        return ctx.is_stream and ctx.mode in ("chat", "completions") and _stream_options_ok(ctx)

    def stream_response(self, ctx: RelayContext, response: httpx.Response) -> AsyncIterator[bytes]:
        return _without_filter_only_chunks(super().stream_response(ctx, response))

    async def read_error(self, ctx: RelayContext, response: httpx.Response) -> RelayError:
        """OpenAI's error shape; Azure's ``innererror`` (content filter results) is kept."""
        body = await response.aread()
        err = error_from_upstream(ctx, response.status_code, body)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return err
        azure = data.get("error") if isinstance(data, dict) else None
        if not isinstance(azure, dict):
            return err
        if err.type == "upstream_error" and err.status == 400:
            err.type = "invalid_request_error"
        extra = {key: azure[key] for key in _EXTRA_KEYS if key in azure}
        return AzureRelayError(err, extra) if extra else err


async def _without_filter_only_chunks(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Drop the chunks Azure adds before the answer that hold only ``prompt_filter_results``
    (empty ``choices``, empty id and model): OpenAI clients expect ``choices: []`` only in
    the final usage chunk. Every other event passes as it is."""
    async for events in stream:  # whole SSE events, one or several
        if b'"prompt_filter_results"' in events:
            events = b"".join(e + b"\n\n" for e in events.split(b"\n\n") if e and not _filter_only(e))
            if not events:
                continue
        yield events


def _filter_only(event: bytes) -> bool:
    if b'"prompt_filter_results"' not in event:
        return False
    try:
        chunk = orjson.loads(event.split(b"data:", 1)[-1].strip())
    except orjson.JSONDecodeError:
        return False
    return isinstance(chunk, dict) and not chunk.get("choices") and not chunk.get("usage")
