"""The shared upstream HTTP client and the session interface, tuned for the relay's hot path."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from httpx_aiohttp import AiohttpTransport
from quart import Request, has_request_context
from quart import request as current_request
from quart.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import RequestTimeout

if TYPE_CHECKING:
    from .relay.context import ChannelRecord
    from .settings import Settings

__all__ = ["ApiSessions", "BodyRequest", "UpstreamTimeouts", "open_stream", "relay_timeouts",
           "upstream_client"]

FIRST_BYTE_TIMEOUT = 300.0  # s: connect + response headers, when RELAY_TIMEOUT is 0 (as New API)
STREAM_IDLE_TIMEOUT = 120.0  # s: between two reads of a body, when STREAMING_TIMEOUT is 0
CONNECT_TIMEOUT = 30.0  # s: the TCP (+TLS) connect alone


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: an upstream's cookies must never reach another channel or user."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _UpstreamClient(httpx.AsyncClient):
    _no_cookies = _NoCookies()

    @property  # type: ignore[override,misc]
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies


def upstream_client(timeout: float | None) -> httpx.AsyncClient:
    """One client for every upstream: aiohttp transport, large pool, keep-alive, no cookies.

    ``timeout`` (seconds) bounds each socket read of a request that brings no timeout of its
    own; None or 0 means ``FIRST_BYTE_TIMEOUT``: no upstream call may wait forever.
    """
    return _UpstreamClient(
        transport=AiohttpTransport(
            trust_env=False,
            limits=httpx.Limits(max_connections=2000, max_keepalive_connections=500),
        ),
        timeout=httpx.Timeout(timeout or FIRST_BYTE_TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
    )


@dataclass(frozen=True, slots=True)
class UpstreamTimeouts:
    """How long a relayed call waits on its upstream, in seconds.

    ``first_byte``: from the start of the call to the response headers (pool wait, connect,
    sending the body and the upstream's thinking time). ``idle``: for each read of the body
    (between two chunks of a stream, or of a plain body); when it elapses the body iterator
    raises ``httpx.ReadTimeout``.
    """

    first_byte: float
    idle: float


def relay_timeouts(settings: Settings, channel: ChannelRecord | None) -> UpstreamTimeouts:
    """The timeouts of a relayed call: the channel's config ``"timeout"`` (first byte) and
    ``"stream_timeout"`` (idle), else RELAY_TIMEOUT and STREAMING_TIMEOUT, else 300 s / 120 s.
    A value that is not a positive number of seconds counts as unset."""
    first_byte = settings.RELAY_TIMEOUT or FIRST_BYTE_TIMEOUT
    idle = settings.STREAMING_TIMEOUT or STREAM_IDLE_TIMEOUT
    config = channel.config if channel is not None else None
    if config and ("timeout" in config or "stream_timeout" in config):
        first_byte = _seconds(config.get("timeout")) or first_byte
        idle = _seconds(config.get("stream_timeout")) or idle
    return _upstream_timeouts(float(first_byte), float(idle))


@functools.lru_cache(maxsize=256)
def _upstream_timeouts(first_byte: float, idle: float) -> UpstreamTimeouts:
    return UpstreamTimeouts(first_byte, idle)  # one instance per pair: nothing built per request


def _seconds(value: Any) -> float | None:
    """A positive, finite number of seconds from a channel's config (a number or a numeric
    string, as the channel form stores it), else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if 0 < seconds < math.inf else None


@functools.lru_cache(maxsize=4096)
def _url(url: str) -> httpx.URL:
    return httpx.URL(url)  # parsing is a tenth of httpx's per-request cost; URLs are immutable


@functools.lru_cache(maxsize=64)
def _timeouts(timeout: float | None) -> dict[str, float | None]:
    return httpx.Timeout(timeout).as_dict()


@functools.lru_cache(maxsize=64)
def _connect_only(connect: float | None, first_byte: float) -> dict[str, float | None]:
    """The transport's own timeouts under an ``UpstreamTimeouts``: only the connect (the
    client's, at most ``first_byte``); the first-byte deadline and the idle limit are ours."""
    connect = min(connect, first_byte) if connect else first_byte
    return {"connect": connect, "read": None, "write": None, "pool": None}


async def open_stream(client: httpx.AsyncClient, method: str, url: str, *, headers: dict[str, str],
                      content: bytes, timeout: float | UpstreamTimeouts | None = None) -> httpx.Response:
    """Send one request through ``client``'s transport; the response body is not read yet.

    What ``client.send(client.build_request(...), stream=True)`` does for the upstream client
    (which keeps no cookies, follows no redirects and has no auth), without merging the client's
    default headers or parsing the URL again: that machinery is a quarter of the relay's
    httpx+aiohttp time.

    ``timeout``: None means the client's own; a number bounds the connect and each socket read
    (the transport's); an ``UpstreamTimeouts`` bounds the wait for the response headers (from
    now, connect included) by ``first_byte`` and each read of the body by ``idle``. Both raise
    ``httpx.ReadTimeout`` (headers: from this call; body: from its iterator).
    """
    if isinstance(timeout, UpstreamTimeouts):
        first_byte: float | None = timeout.first_byte
        idle: float | None = timeout.idle
        timeouts = _connect_only(client.timeout.connect, timeout.first_byte)
    else:
        first_byte = idle = None
        timeouts = client.timeout.as_dict() if timeout is None else _timeouts(timeout)
    request = httpx.Request(method, _url(url), headers=headers, content=content,
                            extensions={"timeout": timeouts})
    transport = client._transport_for_url(request.url)
    if first_byte is None:
        response = await transport.handle_async_request(request)
    else:
        deadline = asyncio.timeout(first_byte)  # a timer, no task
        try:
            async with deadline:
                response = await transport.handle_async_request(request)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise httpx.ReadTimeout(f"no response headers from the upstream within {first_byte:g} s",
                                    request=request) from None
    response.request = request
    response.stream = _BodyUpToTheBreak(response.stream, idle)  # type: ignore[arg-type]
    return response


class _BodyUpToTheBreak(httpx.AsyncByteStream):
    """An upstream body that, when the connection breaks mid-body, still yields the bytes that
    had arrived before raising: aiohttp raises at once and drops them, so a client would lose
    (and not be billed for) the last chunks an upstream sent before it hung up.

    With ``idle`` (seconds), each read that waits longer raises ``httpx.ReadTimeout``: a hung
    upstream ends the body (the relay then settles for what was delivered). The limit counts
    only while a read waits, never while the consumer holds a chunk.
    """

    def __init__(self, inner: Any, idle: float | None = None) -> None:
        self._inner = inner
        self._idle = idle

    async def __aiter__(self) -> AsyncIterator[bytes]:
        idle = self._idle
        if idle is None:
            try:
                async for chunk in self._inner:
                    yield chunk
            except httpx.ReadError:
                rest = _arrived_unread(self._inner)
                if rest:
                    yield rest
                raise
            return
        reads = self._inner.__aiter__()
        loop = asyncio.get_running_loop()
        watch = _IdleWatch(loop, idle)
        try:
            while True:
                # One timer per idle period, not per read (a timer per chunk cost a tenth of a
                # stream's CPU); never armed while the consumer holds a chunk, which may resume
                # this generator from another task.
                task = asyncio.current_task()
                assert task is not None
                cancelling = task.cancelling()
                watch.reading(task)
                try:
                    chunk = await reads.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if watch.expired and task.uncancel() <= cancelling:
                        raise httpx.ReadTimeout(f"the upstream sent nothing for {idle:g} s") from None
                    raise
                except httpx.ReadError:
                    rest = _arrived_unread(self._inner)
                    if rest:
                        yield rest
                    raise
                finally:
                    watch.task = None
                yield chunk
        finally:
            watch.stop()

    async def aclose(self) -> None:
        await self._inner.aclose()


class _IdleWatch:
    """Cancels the task waiting for a read that has waited ``idle`` seconds (then ``expired``)."""

    __slots__ = ("expired", "handle", "idle", "loop", "started", "task")

    def __init__(self, loop: asyncio.AbstractEventLoop, idle: float) -> None:
        self.loop = loop
        self.idle = idle
        self.task: asyncio.Task[Any] | None = None
        self.started = 0.0
        self.expired = False
        self.handle: asyncio.TimerHandle | None = None

    def reading(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.started = self.loop.time()
        if self.handle is None:
            self.handle = self.loop.call_at(self.started + self.idle, self._check)

    def _check(self) -> None:
        self.handle = None
        if self.task is None:
            return  # not reading now: the next read arms the timer again
        if self.loop.time() - self.started >= self.idle:
            self.expired = True
            self.task.cancel()
        else:
            self.handle = self.loop.call_at(self.started + self.idle, self._check)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


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
    """Cookie sessions for the API and pages only: requests under ``no_session`` (first path
    segments: the relay's, plugins' relay routes) never open one."""

    def __init__(self, no_session: tuple[str, ...] = (), secure: str = "auto") -> None:
        super().__init__()
        self.no_session = no_session
        self.secure = secure

    async def open_session(self, app: Any, request: Any) -> Any:
        if request.path.split("/", 2)[1] in self.no_session:
            return None
        return await super().open_session(app, request)

    def get_cookie_secure(self, app: Any) -> bool:
        """SESSION_COOKIE_SECURE: "auto" marks the cookie Secure on requests that came over HTTPS."""
        if self.secure != "auto":
            return self.secure == "true"
        return has_request_context() and current_request.scheme in ("https", "wss")


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
