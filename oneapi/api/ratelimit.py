"""Per-IP rate limits for /api (One API's GA and CT limiters) and per-account login backoff.

The global limit is a sliding window in each process's memory (it guards every /api request,
so it costs no round trip; with N workers an address gets N times the limit). The critical
limit and the failed-login counts are in the shared state (Redis, else the database): every
worker and node counts against the same number.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import deque
from typing import Any

from quart import request
from quart.typing import ResponseReturnValue

from ..gateway import Gateway
from ..shared import shared_state
from ._common import ApiError, F, gateway

__all__ = [
    "CRITICAL_WINDOW", "GLOBAL_WINDOW", "RateLimiter", "check_global", "critical", "limiter",
    "login_allowed", "login_failed", "login_succeeded",
]  # fmt: skip

#: Failed logins of one account before each further one waits (10 s, doubling, at most 15 min).
FREE_FAILURES = 5
MAX_BACKOFF = 900

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
    """One API's critical limit (login, register, codes): CRITICAL_RATE_LIMIT per 20 minutes
    per address, counted across workers and nodes."""

    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        gw = gateway()
        limit = gw.settings.CRITICAL_RATE_LIMIT
        if limit and await shared_state(gw).count("ct:" + _client(), CRITICAL_WINDOW) > limit:
            raise ApiError(
                f"too many attempts: at most {limit} per 20 minutes from one address; try again later",
                429,
            )
        return await view(*args, **kwargs)

    wrapper.critical = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _account(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


async def login_allowed(gw: Gateway, username: str) -> None:
    """Refuse a login attempt on an account in backoff after repeated failures, from
    whichever address or worker they came."""
    wait = await shared_state(gw).get("login-lock:" + _account(username))
    if wait is not None:
        raise ApiError("too many failed logins for this account: wait a little and try again "
                       f"(at most {int(wait)} seconds)")


async def login_failed(gw: Gateway, username: str) -> None:
    """Count a failed login; from the FREE_FAILURES-th on, the account waits before the next."""
    shared = shared_state(gw)
    failures = await shared.count("login-fail:" + _account(username), 3600)
    if failures >= FREE_FAILURES:
        wait = min(10 * 2 ** (failures - FREE_FAILURES), MAX_BACKOFF)
        await shared.put("login-lock:" + _account(username), str(wait), wait)


async def login_succeeded(gw: Gateway, username: str) -> None:
    await shared_state(gw).delete("login-fail:" + _account(username))
