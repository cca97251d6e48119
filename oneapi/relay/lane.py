"""The fast lane: the hot JSON relay routes served straight from ASGI, around Quart.

Quart's request and response objects, context stacks, hooks and session handling cost about
a sixth of a relayed request's CPU. A POST to one of ``ROUTES`` without an ``Origin`` header
goes from Hypercorn to the controller directly; browsers (CORS), multipart uploads, plugin
routes and everything else go to Quart as before. Both paths run the same controller, with
the same route table (``modes.RELAY_ROUTES``), body limit and timeout (the app's config); when
a plugin installs app-wide request handlers, the lane steps aside so that they see every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from ..services import serving
from .context import RelayError
from .controller import error_reply, new_request_id, relay_reply
from .exchange import Chunks, Incoming, Reply
from .modes import MODES, RELAY_ROUTES

if TYPE_CHECKING:
    from ..gateway import Gateway

__all__ = ["ROUTES", "FastLane"]


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The JSON endpoints of the /v1 route table (multipart ones always go through Quart).
ROUTES = {path: mode for path, mode in RELAY_ROUTES.items() if not MODES[mode].multipart}


class _ClientGone(Exception):
    pass


class FastLane:
    """Serves ``ROUTES`` for ``gw``; ``wrap`` puts it in front of an ASGI app."""

    def __init__(self, gw: Gateway, max_body: int, body_timeout: float) -> None:
        self.gw = gw
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.open = True  # False: every request goes through Quart

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if self.open and scope["type"] == "http" and scope["method"] == "POST":
                mode = ROUTES.get(scope["path"])
                if mode is not None:
                    # The first of repeated headers wins, as in werkzeug's Headers.get.
                    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}
                    if "origin" not in headers and "multipart/" not in headers.get("content-type", ""):
                        await self.serve(mode, headers, scope, receive, send)
                        return
            await app(scope, receive, send)

        return asgi

    async def serve(self, mode: str, headers: dict[str, str], scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body, relay, send the reply (streams stop when the client leaves)."""
        try:
            body = await self._read_body(headers, receive)
        except RelayError as err:
            await _send_whole(error_reply(err, new_request_id()), send)
            return
        except _ClientGone:
            return
        client = scope.get("client")
        incoming = Incoming(headers, client[0] if client else "", body)
        serving.set(self.gw.services)
        # A stream's client may leave while the upstream is still thinking: watch from now on, so
        # that nothing counts as delivered to a client that is already gone.
        gone = asyncio.get_running_loop().create_task(_disconnected(receive)) if b'"stream"' in body else None
        try:
            reply = await relay_reply(self.gw, incoming, mode)
        except BaseException:
            if gone is not None:
                gone.cancel()
            raise
        if isinstance(reply.body, Chunks):
            await _send_stream(reply, gone or asyncio.get_running_loop().create_task(_disconnected(receive)), send)
            return
        if gone is not None:
            gone.cancel()
        await _send_whole(reply, send)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            raise _too_large()
        parts: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _ClientGone()
                    part = message.get("body", b"")
                    size += len(part)
                    if size > self.max_body:
                        raise _too_large()
                    parts.append(part)
                    if not message.get("more_body"):
                        break
        except TimeoutError:
            raise RelayError(408, "timed out reading the request body", "invalid_request_error",
                             "request_timeout") from None
        return parts[0] if len(parts) == 1 else b"".join(parts)


def _too_large() -> RelayError:
    return RelayError(413, "request body too large", "invalid_request_error", "request_too_large")


def _start(reply: Reply, extra: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    headers = [(b"content-type", reply.content_type.encode("latin-1")), *extra]
    headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items())
    return {"type": "http.response.start", "status": reply.status, "headers": headers}


async def _send_whole(reply: Reply, send: Send) -> None:
    body = reply.body
    assert isinstance(body, bytes)
    await send(_start(reply, [(b"content-length", str(len(body)).encode())]))
    await send({"type": "http.response.body", "body": body})


async def _send_stream(reply: Reply, gone: asyncio.Task[None], send: Send) -> None:
    """Stream the chunks until they end or the client disconnects (``gone``), whichever is first;
    either way the chunks are closed, which settles the request for what was delivered. The
    chunks are sent from this task (no task per stream): a disconnect cancels it."""
    chunks = reply.body
    assert isinstance(chunks, Chunks)
    serving = asyncio.current_task()
    assert serving is not None
    state = {"left": False, "finished": False}

    def on_gone(watch: asyncio.Task[None]) -> None:
        if not state["finished"] and not watch.cancelled():
            state["left"] = True
            serving.cancel()

    try:
        if gone.done():
            return
        gone.add_done_callback(on_gone)
        await send(_start(reply, []))
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not state["left"]:
            raise
        serving.uncancel()
    finally:
        state["finished"] = True  # before any await: a late disconnect cancels nothing now
        gone.cancel()
        await chunks.aclose()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
