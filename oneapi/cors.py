"""Open CORS for client-facing routes (browser apps call /v1, /mj and the like directly)."""

from __future__ import annotations

from quart import Blueprint, Response, request

__all__ = ["allow_cors"]


def allow_cors(blueprint: Blueprint, methods: str = "GET, POST, OPTIONS") -> None:
    """Answer every response of ``blueprint`` with permissive CORS headers for the caller's origin."""

    @blueprint.after_request
    async def cors(response: Response) -> Response:
        response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "*"
        )
        response.headers["Access-Control-Allow-Methods"] = methods
        return response
