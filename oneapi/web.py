"""The bundled web UI: built files under oneapi/static, SPA fallback to index.html.

A path names a file only inside oneapi/static (``static_file``: no ``..``, empty, backslash or
NUL segment, nothing a symlink leads out of). Under /assets a missing file is a 404; any
other path that names no file is a page of the SPA and gets index.html, so a traversal
answers exactly as the same traversal to a file that does not exist.

GLOBAL_WEB_RATE_LIMIT counts page loads (the HTML document), not the hashed assets a page pulls in.

Every answer of the UI carries a Content-Security-Policy (``PAGE_CSP``), ``X-Frame-Options:
DENY`` and ``X-Content-Type-Options: nosniff``; every other answer Quart serves (/api JSON,
plugin routes, the UI's 404 for /api paths) carries nosniff and ``frame-ancestors 'none'``
(``security_headers``).
"""

from __future__ import annotations

import os

from quart import Blueprint, Quart, Response, redirect, request, send_file
from quart.typing import ResponseReturnValue

from .api.ratelimit import GLOBAL_WINDOW, limiter
from .gateway import gateway

__all__ = ["PAGE_CSP", "security_headers", "static_file", "web_blueprint"]

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
ASSETS = "assets"  # Vite's hashed files: a missing one is a 404, never the SPA's index

# What the built UI (Vite + React + antd) needs, and no more:
# - scripts: its own module files only (Vite's build has no inline script), and Cloudflare
#   Turnstile's when the site enables it; no eval;
# - styles: antd's CSS-in-JS writes <style> elements and style attributes: 'unsafe-inline';
# - images: the logo option and Midjourney's results may be on any host (and data:/blob:);
# - frames: an https URL as Notice/About/Home content is shown in an iframe (Turnstile too);
# - no form-action: online top-up submits a form to the payment provider's address.
PAGE_CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self' https://challenges.cloudflare.com",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob: https: http:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self' https:",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
))
_PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
_OTHER_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def security_headers(app: Quart) -> None:
    """Add the headers above to every answer Quart serves (a header a route set itself wins).
    Register it with the core's own handlers: the /v1 fast lane needs none of them."""

    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        page = request.blueprint == "web" and response.mimetype != "application/json"
        extra = _PAGE_HEADERS if page else _OTHER_HEADERS
        for name, value in extra.items():
            if name not in response.headers:
                response.headers[name] = value
        return response


def static_file(path: str, root: str = STATIC_DIR) -> str | None:
    """The regular file under ``root`` that the URL path ``path`` (decoded, without its leading
    slash) names, or None: never anything outside ``root``."""
    parts = path.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        return None
    base = os.path.realpath(root)
    full = os.path.realpath(os.path.join(base, *parts))
    if not full.startswith(base + os.sep) or not os.path.isfile(full):
        return None
    return full


def web_blueprint(not_pages: tuple[str, ...]) -> Blueprint:
    """Pages and built assets; paths whose first segment is in ``not_pages`` answer 404 JSON."""
    bp = Blueprint("web", __name__)

    @bp.get("/")
    @bp.get("/<path:path>")
    async def page(path: str = "") -> ResponseReturnValue:
        if path.split("/", 1)[0] in not_pages:
            return Response('{"error": "not found"}', 404, content_type="application/json")
        settings = gateway().settings
        if settings.FRONTEND_BASE_URL and not settings.is_master:
            target = settings.FRONTEND_BASE_URL.rstrip("/") + request.full_path.rstrip("?")
            return redirect(target, 302)
        asset = path == ASSETS or path.startswith(ASSETS + "/")
        found = static_file(path) if path else None
        if found is not None:
            response = await send_file(found)
            if asset:
                response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            return response
        if asset:
            return Response("not found", 404, content_type="text/plain; charset=utf-8")
        limit = settings.GLOBAL_WEB_RATE_LIMIT
        if limit and not limiter(gateway()).allow("GW" + (request.remote_addr or ""), limit, GLOBAL_WINDOW):
            return Response(
                f"Too many page loads: at most {limit} per 3 minutes from one address.", 429,
                content_type="text/plain; charset=utf-8",
            )
        index = os.path.join(STATIC_DIR, "index.html")
        if not os.path.isfile(index):
            return Response(
                "<h1>oneapi</h1><p>The web UI is not built: run <code>make run</code>.</p>",
                200,
                content_type="text/html",
            )
        response = await send_file(index)
        response.headers["Cache-Control"] = "no-cache"
        return response

    return bp
