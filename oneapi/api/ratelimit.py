"""Per-IP sliding-window rate limits for /api (One API's GA and CT limiters), kept in memory.

The state lives on the Gateway (``gw.memo``), never in a module global, so two apps in one
process do not share counters.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from typing import Any

from quart import request
from quart.typing import ResponseReturnValue

from ..gateway import Gateway
from ._common import ApiError, F, gateway

__all__ = ["CRITICAL_WINDOW", "GLOBAL_WINDOW", "RateLimiter", "check_global", "critical", "limiter"]

GLOBAL_WINDOW = 180.0
CRITICAL_WINDOW = 1200.0


class RateLimiter:
    """Sliding-window logs of request times, one per (mark, client)."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = {}
        self._last_sweep = time.monotonic()

    def allow(self, key: str, limit: int, window: float) -> bool:
        """Record a request; False when ``limit`` requests already fell within ``window``."""
        moment = time.monotonic()
        self._sweep(moment)
        log = self.hits.setdefault(key, deque())
        while log and moment - log[0] >= window:
            log.popleft()
        if len(log) >= limit:
            return False
        log.append(moment)
        return True

    def _sweep(self, moment: float) -> None:
        """Forget idle clients now and then so memory stays bounded."""
        if moment - self._last_sweep < 60:
            return
        self._last_sweep = moment
        for key, log in list(self.hits.items()):
            if not log or moment - log[-1] >= CRITICAL_WINDOW:
                del self.hits[key]


def limiter(gw: Gateway) -> RateLimiter:
    found = gw.memo.get("api.ratelimiter")
    if found is None:
        found = gw.memo["api.ratelimiter"] = RateLimiter()
    return found  # type: ignore[no-any-return]


def _client() -> str:
    return request.remote_addr or "unknown"


async def check_global() -> None:
    """``GLOBAL_API_RATE_LIMIT`` requests per 3 minutes per IP on /api (0 disables)."""
    gw = gateway()
    limit = gw.settings.GLOBAL_API_RATE_LIMIT
    if limit and not limiter(gw).allow("GA" + _client(), limit, GLOBAL_WINDOW):
        raise ApiError(
            f"too many requests: at most {limit} API requests per 3 minutes from one address", 429
        )


def critical(view: F) -> F:
    """One API's critical limit (login, register, codes): CRITICAL_RATE_LIMIT per 20 minutes."""

    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        gw = gateway()
        limit = gw.settings.CRITICAL_RATE_LIMIT
        if limit and not limiter(gw).allow("CT" + _client(), limit, CRITICAL_WINDOW):
            raise ApiError(
                f"too many attempts: at most {limit} per 20 minutes from one address; try again later",
                429,
            )
        return await view(*args, **kwargs)

    wrapper.critical = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
