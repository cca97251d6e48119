"""Image dimensions from the leading bytes of PNG, JPEG, GIF and WebP files (no PIL),
from base64 data: URLs, and from remote URLs through a bounded header fetch."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = ["ImageFetcher", "data_url_size", "http_image_fetcher", "image_size"]

ImageFetcher = Callable[[str], Awaitable[bytes]]
"""Returns the leading bytes of the image at a URL (raises on failure)."""

# JPEG start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone, without a length field.
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}


def image_size(data: bytes) -> tuple[int, int] | None:
    """Return (width, height) of the image whose leading bytes are `data`.

    None when the format is not recognised or the header is truncated/corrupt.
    Only the header is needed: a prefix of the file is enough for every format
    (for JPEG, enough to reach the start-of-frame segment).
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _png(data)
    if data.startswith(b"\xff\xd8"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _positive(*struct.unpack_from("<HH", data, 6)) if len(data) >= 10 else None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    return None


def _positive(width: int, height: int) -> tuple[int, int] | None:
    """The pair, or None when either side is zero."""
    return (width, height) if width > 0 and height > 0 else None


def _png(data: bytes) -> tuple[int, int] | None:
    """Size from the IHDR chunk, which must come first."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return _positive(*struct.unpack_from(">II", data, 16))


def _jpeg(data: bytes) -> tuple[int, int] | None:
    """Size from the first SOFn segment; None if scan data starts before one."""
    pos, end = 2, len(data)
    while pos + 1 < end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan
            return None
        if pos + 4 > end:
            return None
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if pos + 9 > end:
                return None
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return _positive(width, height)
        pos += 2 + length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    """Size from a VP8 (lossy), VP8L (lossless) or VP8X (extended) first chunk."""
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if len(data) < 30 or data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack_from("<HH", data, 26)
        return _positive(width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        if len(data) < 25 or data[20] != 0x2F:
            return None
        (bits,) = struct.unpack_from("<I", data, 21)
        return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        if len(data) < 30:
            return None
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return (width, height)
    return None


def data_url_size(url: str, prefix_chars: int = 64 * 1024) -> tuple[int, int] | None:
    """(width, height) of the image in a base64 `data:` URL, or None.

    The first `prefix_chars` of the payload are tried first; the whole payload only
    when the header lies beyond them (e.g. a JPEG with a large EXIF block).
    """
    head, sep, payload = url.partition(",")
    if not sep or not head.lower().startswith("data:") or not head.lower().endswith(";base64"):
        return None
    prefix = payload[: min(prefix_chars, len(payload)) // 4 * 4]
    for chunk in (prefix, payload.strip() if len(payload) > len(prefix) else ""):
        if not chunk:
            continue
        try:
            size = image_size(base64.b64decode(chunk))
        except ValueError:  # binascii.Error is a ValueError
            return None
        if size is not None:
            return size
    return None


def http_image_fetcher(
    client: httpx.AsyncClient, *, timeout: float = 10.0, max_bytes: int = 1 << 20
) -> ImageFetcher:
    """An `ImageFetcher` over `client`: GETs the URL within `timeout` seconds and returns
    its leading bytes, stopping once the image size is known or `max_bytes` were read.

    It reaches any address: only for URLs the gateway trusts. URLs from clients' requests go
    through ``oneapi._egress.Egress`` (``Gateway.fetch_image``), which refuses private ones."""

    async def fetch(url: str) -> bytes:
        buffer = bytearray()
        async with asyncio.timeout(timeout):
            async with client.stream("GET", url) as response:
                response.raise_for_status()
                async for chunk in response.aiter_bytes():
                    buffer += chunk[: max_bytes - len(buffer)]
                    if len(buffer) >= max_bytes or image_size(bytes(buffer)) is not None:
                        break
        return bytes(buffer)

    return fetch
