"""Open CORS for client-facing routes (browser apps call /v1, /mj and the like directly)."""

from __future__ import annotations

from quart import Blueprint, Response, request

__all__ = ["allow_cors"]


def allow_cors(blueprint: Blueprint, methods: str = "GET, POST, OPTIONS") -> None:
    """Answer browsers (requests with an Origin) on ``blueprint`` with permissive CORS headers
    for the caller's origin; other clients get none, which spares every SDK call four headers."""

    @blueprint.after_request
    async def cors(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is None:
            return response
        response.vary.add("Origin")
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "*"
        )
        response.headers["Access-Control-Allow-Methods"] = methods
        return response
