"""The shared upstream HTTP client and the session interface, tuned for the relay's hot path."""

from __future__ import annotations

from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport
from quart.sessions import SecureCookieSessionInterface

__all__ = ["ApiSessions", "upstream_client"]


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: an upstream's cookies must never reach another channel or user."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _UpstreamClient(httpx.AsyncClient):
    _no_cookies = _NoCookies()

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies


def upstream_client(timeout: float | None) -> httpx.AsyncClient:
    """One client for every upstream: aiohttp transport, large pool, keep-alive, no cookies."""
    return _UpstreamClient(
        transport=AiohttpTransport(
            trust_env=False,
            limits=httpx.Limits(max_connections=2000, max_keepalive_connections=500),
        ),
        timeout=httpx.Timeout(timeout, connect=30),
        follow_redirects=False,
    )


class ApiSessions(SecureCookieSessionInterface):
    """Cookie sessions for the API and pages only: relay requests never open one."""

    async def open_session(self, app: Any, request: Any) -> Any:
        if request.path.startswith(("/v1/", "/mj", "/dashboard/")):
            return None
        return await super().open_session(app, request)
