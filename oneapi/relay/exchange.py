"""A relayed request and its reply, independent of the web framework that carries them.

The controller reads an ``Incoming`` and returns a ``Reply``; Quart's views and the ASGI fast
lane (``lane.py``) each translate from and to their own wire objects.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Chunks", "Incoming", "Reply"]


@dataclass(slots=True)
class Incoming:
    """What the controller needs of a client's request.

    ``headers`` answers ``get`` for lower-case names; ``form`` is the parsed multipart form
    (only for multipart endpoints, None otherwise).
    """

    headers: Mapping[str, str]
    remote_addr: str
    body: bytes
    form: dict[str, Any] | None = None


class Chunks:
    """A streamed body: iterate it once; ``aclose`` releases it (closes the upstream, settles
    the request) whether it was read to the end, partly, or not at all. Closing twice is a no-op."""

    __slots__ = ("_closed", "_on_close", "_source")

    def __init__(self, source: AsyncGenerator[bytes, None], on_close: Callable[[], Awaitable[None]]) -> None:
        self._source = source
        self._on_close = on_close
        self._closed = False

    def __aiter__(self) -> Chunks:
        return self

    async def __anext__(self) -> bytes:
        return await self._source.__anext__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._source.aclose()
        finally:
            await self._on_close()


@dataclass(slots=True)
class Reply:
    """The answer to send: a whole body, or chunks to stream as they come."""

    status: int
    content_type: str
    body: bytes | Chunks
    headers: dict[str, str] = field(default_factory=dict)
