"""Cross-site request forgery defence for /api requests a browser's cookie authenticates.

SameSite=Lax is not enough: another port of the same host is the same *site*, so its pages
get the cookie sent along. Requests with an ``Authorization`` access token need no defence
(a page of another origin cannot set that header without our CORS consent).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import request

from ._common import ApiError

__all__ = ["refuse_cross_site"]

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def refuse_cross_site() -> None:
    """Refuse a cookie-carrying request that another origin's page made: ``Sec-Fetch-Site``
    other than same-origin or none (typed or bookmarked), an ``Origin`` of another host, or a
    state change whose body is not JSON (what a plain HTML form cannot send)."""
    fetch_site = request.headers.get("Sec-Fetch-Site", "").lower()
    if fetch_site and fetch_site not in ("same-origin", "none"):
        raise ApiError("refused: this request came from another site's page", 403)
    origin = request.headers.get("Origin", "")
    if origin and (origin == "null" or urlsplit(origin).netloc.lower() != request.host.lower()):
        raise ApiError("refused: this request came from another origin's page", 403)
    if request.method in _UNSAFE:
        body = await request.get_data(cache=True)
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if body and content_type != "application/json":
            raise ApiError("the request body must be JSON (Content-Type: application/json)")
