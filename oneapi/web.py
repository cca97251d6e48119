"""The bundled web UI: built files under oneapi/static, SPA fallback to index.html.

GLOBAL_WEB_RATE_LIMIT counts page loads (the HTML document), not the hashed assets a page pulls in.
"""

from __future__ import annotations

import os

from quart import Blueprint, Response, redirect, request, send_from_directory
from quart.typing import ResponseReturnValue

from .api.ratelimit import GLOBAL_WINDOW, limiter
from .gateway import gateway

__all__ = ["web_blueprint"]

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")


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
