"""Talking to a Midjourney-Proxy upstream: JSON calls with ``mj-api-secret``, task lists,
and the adaptor the core uses for channel tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from oneapi.plugin import Adaptor, ChannelRecord, RelayContext, RelayError, RelayResult

__all__ = ["MidjourneyAdaptor", "UpstreamReply", "call", "list_by_condition", "upstream_url"]

SUBMIT_TIMEOUT = 60.0
LIST_TIMEOUT = 15.0
LIST_BATCH = 100


@dataclass(slots=True)
class UpstreamReply:
    """An upstream answer: HTTP status, raw body and the parsed JSON (None if not JSON)."""

    status: int
    body: bytes
    data: Any
    content_type: str = "application/json"

    @property
    def code(self) -> int | None:
        """The Midjourney-Proxy return code, when the body is a submit result."""
        if isinstance(self.data, dict) and isinstance(self.data.get("code"), int):
            return int(self.data["code"])
        return None


def upstream_url(channel: ChannelRecord, path: str) -> str:
    """``{base_url}{path}`` with ``path`` starting at ``/mj/...``."""
    return channel.base_url.rstrip("/") + path


def _headers(channel: ChannelRecord) -> dict[str, str]:
    return {"mj-api-secret": channel.key, "Content-Type": "application/json"}


async def call(
    http: httpx.AsyncClient,
    channel: ChannelRecord,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = SUBMIT_TIMEOUT,
) -> UpstreamReply:
    """One JSON call to the channel's upstream; httpx errors propagate to the caller."""
    content = orjson.dumps(body) if body is not None else None
    response = await http.request(
        method, upstream_url(channel, path), headers=_headers(channel), content=content,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
    )
    data: Any = None
    if response.content:
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            data = None
    content_type = response.headers.get("content-type", "application/json")
    return UpstreamReply(response.status_code, response.content, data, content_type)


async def list_by_condition(
    http: httpx.AsyncClient, channel: ChannelRecord, ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The upstream tasks with these ids (batched), by id; unknown ids are absent.

    Raises ``RuntimeError`` when the upstream does not answer with a list.
    """
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), LIST_BATCH):
        batch = ids[start:start + LIST_BATCH]
        reply = await call(http, channel, "POST", "/mj/task/list-by-condition", {"ids": batch},
                           timeout=LIST_TIMEOUT)
        if reply.status != 200 or not isinstance(reply.data, list):
            raise RuntimeError(f"channel {channel.id}: list-by-condition answered HTTP {reply.status}")
        for item in reply.data:
            if isinstance(item, dict) and isinstance(item.get("id"), str | int):
                found[str(item["id"])] = item
    return found


class MidjourneyAdaptor(Adaptor):
    """Channel tests and the core's registry; the relay itself is the plugin's /mj blueprint.

    A test lists no tasks (``POST /mj/task/list-by-condition {"ids": []}``), which checks
    the address and the ``mj-api-secret`` without starting any job.
    """

    def base_url(self, channel: ChannelRecord) -> str:
        return (channel.base_url or self.channel_type.base_url).rstrip("/")

    def request_url(self, ctx: RelayContext) -> str:
        assert ctx.channel is not None
        return f"{self.base_url(ctx.channel)}/mj/task/list-by-condition"

    def request_headers(self, ctx: RelayContext) -> dict[str, str]:
        assert ctx.channel is not None
        return _headers(ctx.channel)

    def request_body(self, ctx: RelayContext) -> bytes:
        return b'{"ids":[]}'

    def test_request(self, model: str) -> dict[str, Any]:
        return {"model": model, "ids": []}

    async def read_response(self, ctx: RelayContext, response: httpx.Response) -> RelayResult:
        body = await response.aread()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, list):
            raise RelayError(502, "the Midjourney-Proxy did not answer list-by-condition with a list",
                             "upstream_error", "bad_response_body")
        return RelayResult(response.status_code, body, json=data)

    async def read_error(self, ctx: RelayContext, response: httpx.Response) -> RelayError:
        await response.aread()
        if response.status_code in (401, 403):
            return RelayError(response.status_code,
                              "the Midjourney-Proxy refused the channel key (mj-api-secret)",
                              "authentication_error", "invalid_api_key", disable_channel=True)
        return RelayError(response.status_code,
                          f"the Midjourney-Proxy answered HTTP {response.status_code}",
                          "upstream_error", retryable=True)
