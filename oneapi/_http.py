"""The shared upstream HTTP client and the session interface, tuned for the relay's hot path."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport
from quart import Request
from quart.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import RequestTimeout

__all__ = ["ApiSessions", "BodyRequest", "open_stream", "upstream_client"]


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: an upstream's cookies must never reach another channel or user."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _UpstreamClient(httpx.AsyncClient):
    _no_cookies = _NoCookies()

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies


def upstream_client(timeout: float | None) -> httpx.AsyncClient:
    """One client for every upstream: aiohttp transport, large pool, keep-alive, no cookies."""
    return _UpstreamClient(
        transport=AiohttpTransport(
            trust_env=False,
            limits=httpx.Limits(max_connections=2000, max_keepalive_connections=500),
        ),
        timeout=httpx.Timeout(timeout, connect=30),
        follow_redirects=False,
    )


@functools.lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)  # parsing is a tenth of httpx's per-request cost; URLs are immutable


@functools.lru_cache(maxsize=64)
def _timeouts(timeout: float | None) -> dict[str, float | None]:
    return httpx.Timeout(timeout).as_dict()


async def open_stream(client: httpx.AsyncClient, method: str, url: str, *, headers: dict[str, str],
                      content: bytes, timeout: float | None = None) -> httpx.Response:
    """Send one request through ``client``'s transport; the response body is not read yet.

    What ``client.send(client.build_request(...), stream=True)`` does for the upstream client
    (which keeps no cookies, follows no redirects and has no auth), without merging the client's
    default headers or parsing the URL again: that machinery is a quarter of the relay's
    httpx+aiohttp time. ``timeout`` None means the client's own.
    """
    timeouts = client.timeout.as_dict() if timeout is None else _timeouts(timeout)
    request = httpx.Request(method, _url(url), headers=headers, content=content,
                            extensions={"timeout": timeouts})
    response = await client._transport_for_url(request.url).handle_async_request(request)
    response.request = request
    response.stream = _BodyUpToTheBreak(response.stream)  # type: ignore[arg-type]
    return response


class _BodyUpToTheBreak(httpx.AsyncByteStream):
    """An upstream body that, when the connection breaks mid-body, still yields the bytes that
    had arrived before raising: aiohttp raises at once and drops them, so a client would lose
    (and not be billed for) the last chunks an upstream sent before it hung up."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.ReadError:
            rest = _arrived_unread(self._inner)
            if rest:
                yield rest
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


def _arrived_unread(stream: Any) -> bytes:
    """What aiohttp's reader holds but has not handed over (its private buffer; the aiohttp
    version is pinned and tests/relay cover this)."""
    content = getattr(getattr(stream, "_aiohttp_response", None), "content", None)
    buffer = getattr(content, "_buffer", None)
    if not buffer:
        return b""
    data = b"".join(buffer)[getattr(content, "_buffer_offset", 0):]
    buffer.clear()
    return data


class ApiSessions(SecureCookieSessionInterface):
    """Cookie sessions for the API and pages only: relay requests never open one."""

    async def open_session(self, app: Any, request: Any) -> Any:
        if request.path.startswith(("/v1/", "/mj", "/dashboard/")):
            return None
        return await super().open_session(app, request)


class BodyRequest(Request):
    """Quart's request whose body read is bounded by ``asyncio.timeout``: ``wait_for`` would
    start a task for every body read (twice per relayed request)."""

    async def get_data(self, cache: bool = True, as_text: bool = False,  # type: ignore[override]
                       parse_form_data: bool = False) -> str | bytes:
        if parse_form_data:
            return await super().get_data(cache, as_text, parse_form_data)
        try:
            async with asyncio.timeout(self.body_timeout):
                raw: bytes = await self.body
        except TimeoutError as exc:
            raise RequestTimeout() from exc
        if not cache:
            self.body.clear()
        return raw.decode() if as_text else raw
