"""Signed image URLs and the image proxy ``GET /mj/image/{id}?sig=...``.

The signature is HMAC-SHA256(SESSION_SECRET, ``"mjimg:" + id``): only someone who was given
the URL (the task's owner, an admin) can load the image. The proxy fetches only the URL the
task row holds (never one from the request), accepts only ``image/*`` answers, and caps
their size and time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from quart import Response

__all__ = ["image_url", "notify_signature", "proxy_image", "sign", "verify"]

MAX_IMAGE_BYTES = 32 * 1024 * 1024
IMAGE_TIMEOUT = 60.0


def _mac(secret: str, purpose: str, task_id: str) -> str:
    message = f"{purpose}:{task_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def sign(secret: str, task_id: str) -> str:
    """The ``sig`` of a task's image URL."""
    return _mac(secret, "mjimg", task_id)


def notify_signature(secret: str, task_id: str) -> str:
    """The ``sig`` of a task's notify hook URL (a different purpose, a different key)."""
    return _mac(secret, "mjnotify", task_id)


def verify(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected, given or "")


def image_url(secret: str, base: str, task_id: str, raw_url: str, final: bool, forward: bool) -> str:
    """What clients see as ``imageUrl``: the signed gateway URL, or the raw one."""
    if not raw_url or not forward or not base:
        return raw_url
    url = f"{base}/mj/image/{quote(task_id, safe='')}?sig={sign(secret, task_id)}"
    if not final:  # the preview changes while the task runs
        url += f"&rand={time.time_ns()}"
    return url


def _error(status: int, message: str) -> Response:
    return Response(orjson.dumps({"error": message}), status, content_type="application/json")


async def proxy_image(http: httpx.AsyncClient, url: str, final: bool) -> Response:
    """Stream the image at ``url`` (from a task row) with its content type."""
    if not url.startswith(("http://", "https://")):
        return _error(404, "midjourney_image_not_available")
    request = http.build_request("GET", url, timeout=httpx.Timeout(30.0, connect=10.0))
    try:
        upstream = await http.send(request, stream=True, follow_redirects=True)
    except httpx.HTTPError:
        return _error(502, "http_get_image_failed")
    content_type = upstream.headers.get("content-type", "").split(";")[0].strip().lower()
    length = upstream.headers.get("content-length", "")
    problem = ""
    if upstream.status_code != 200:
        problem = f"the image host answered HTTP {upstream.status_code}"
    elif not content_type.startswith("image/"):
        problem = "the image host did not answer with an image"
    elif length.isdigit() and int(length) > MAX_IMAGE_BYTES:
        problem = "the image is too large"
    if problem:
        await upstream.aclose()
        return _error(502, problem)

    async def body() -> AsyncIterator[bytes]:
        deadline = time.monotonic() + IMAGE_TIMEOUT
        size = 0
        try:
            async for chunk in upstream.aiter_bytes():
                size += len(chunk)
                if size > MAX_IMAGE_BYTES or time.monotonic() > deadline:
                    raise RuntimeError("midjourney image over the size or time limit")
                yield chunk
        finally:
            await upstream.aclose()

    headers: dict[str, Any] = {
        "Cache-Control": "private, max-age=86400" if final else "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    }
    if length.isdigit():
        headers["Content-Length"] = length
    return Response(body(), 200, content_type=content_type, headers=headers)
