"""The bundled web UI: built files under oneapi/static, SPA fallback to index.html.

GLOBAL_WEB_RATE_LIMIT counts page loads (the HTML document), not the hashed assets a page pulls in.

Every answer of the UI carries a Content-Security-Policy (``PAGE_CSP``), ``X-Frame-Options:
DENY`` and ``X-Content-Type-Options: nosniff``; every other answer Quart serves (/api JSON,
plugin routes, the UI's 404 for /api paths) carries nosniff and ``frame-ancestors 'none'``
(``security_headers``).
"""

from __future__ import annotations

import os

from quart import Blueprint, Quart, Response, redirect, request, send_from_directory
from quart.typing import ResponseReturnValue

from .api.ratelimit import GLOBAL_WINDOW, limiter
from .gateway import gateway

__all__ = ["PAGE_CSP", "security_headers", "web_blueprint"]

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")

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
        full = os.path.join(STATIC_DIR, path)
        if path and os.path.isfile(full):
            response = await send_from_directory(STATIC_DIR, path)
            if path.startswith("assets/"):
                response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            return response
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
        response = await send_from_directory(STATIC_DIR, "index.html")
        response.headers["Cache-Control"] = "no-cache"
        return response

    return bp
