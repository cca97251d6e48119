"""A fake EPay (易支付) site on 127.0.0.1 for the top-up tests.

``FakeEpay`` serves ``/submit.php`` (GET or form POST) from an aiohttp app in a background
thread. Like a real provider it checks the merchant id and the MD5 signature of what the
browser submits, "takes the payment", and then calls the order's ``notify_url`` back on
loopback with signed parameters, retrying until the merchant answers ``success``::

    with FakeEpay(pid="1001", key="k") as fake:
        answer = client.post("/api/user/pay", json={...}).json()
        httpx.post(answer["url"], data=answer["data"])     # what the browser does
        assert fake.wait_reply(answer["data"]["out_trade_no"]) == "success"

Knobs (plain attributes; ``reset()`` restores them):

- ``notify_method``: ``"GET"`` (classic, parameters in the query) or ``"POST"`` (form body).
- ``auto_notify``: call back after a submit (default True).
- ``retry_delays``: seconds between attempts while the reply is not ``success``.
- ``corrupt_first``: the first N attempts of each order carry a broken signature.
- ``lose_replies``: the first N ``success`` replies of each order are "lost" (retried anyway).
- ``overrides``: parameters changed before signing (``{"money": "0.01"}``, ``{"pid": "x"}``).
- ``trade_status``: what the notice reports (default ``TRADE_SUCCESS``).
- ``notify_pid`` / ``notify_key``: sign notices as another merchant or with another key.

Foreground use: ``python -m tests.fakes.epay_upstream --port 8082 --pid 1001 --key secret``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes._server import ThreadedFake, serve_until_interrupted

__all__ = ["FakeEpay", "NotifyAttempt", "epay_sign"]

_KNOBS: dict[str, Any] = {
    "notify_method": "GET",
    "auto_notify": True,
    "retry_delays": (0.05, 0.1, 0.2, 0.4, 0.8),
    "corrupt_first": 0,
    "lose_replies": 0,
    "overrides": {},
    "trade_status": "TRADE_SUCCESS",
    "notify_pid": None,
    "notify_key": None,
}


def epay_sign(params: Mapping[str, Any], key: str) -> str:
    """EPay's MD5 rule, written independently of the plugin so each checks the other."""
    items = sorted(
        (k, str(v))
        for k, v in params.items()
        if k not in ("sign", "sign_type") and v is not None and str(v) != ""
    )
    text = "&".join(f"{k}={v}" for k, v in items) + key
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass
class NotifyAttempt:
    """One callback to the merchant and what it answered."""

    out_trade_no: str
    method: str
    status: int
    reply: str


class FakeEpay(ThreadedFake):
    """A fake EPay site: a merchant (``pid``, ``key``) and the orders submitted to it."""

    _knobs = _KNOBS

    def __init__(self, pid: str = "1001", key: str = "epay-test-key", port: int = 0) -> None:
        self.pid, self.key = pid, key
        self.orders: dict[str, dict[str, str]] = {}
        self.attempts: list[NotifyAttempt] = []
        self.submits_refused: list[str] = []
        self._trade_ids = itertools.count(20240001)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        super().__init__(port)

    # --- knobs and records ---

    def _fresh(self, name: str, value: Any) -> Any:
        return dict(value) if isinstance(value, dict) else value

    def replies(self, out_trade_no: str) -> list[str]:
        with self._lock:
            return [a.reply for a in self.attempts if a.out_trade_no == out_trade_no]

    def wait_reply(self, out_trade_no: str, timeout: float = 10.0) -> str:
        """The reply that ended the provider's attempts for an order (``success``, or the
        last ``fail`` once every retry is spent)."""
        return self._call(self._settled(out_trade_no), timeout=timeout)

    # --- what tests do by hand ---

    def notice(self, order_no: str, /, **overrides: str | None) -> dict[str, str]:
        """Signed notify parameters for a submitted order (``sign=None`` drops the sign)."""
        order = self.orders[order_no]
        params = {
            "pid": self.notify_pid or self.pid,
            "trade_no": order["provider_trade_no"],
            "out_trade_no": order_no,
            "type": order.get("type", ""),
            "name": order.get("name", ""),
            "money": order.get("money", ""),
            "trade_status": self.trade_status,
            **self.overrides,
            **{
                k: v
                for k, v in overrides.items()
                if k not in ("sign", "sign_type") and v is not None
            },
        }
        params["sign"] = epay_sign(params, self.notify_key or self.key)
        params["sign_type"] = "MD5"
        for name in ("sign", "sign_type"):
            if name in overrides:
                if overrides[name] is None:
                    params.pop(name)
                else:
                    params[name] = str(overrides[name])
        return params

    def send(
        self, notify_url: str, params: Mapping[str, str], method: str = "GET", count: int = 1
    ) -> list[str]:
        """Deliver a notice ``count`` times at once (concurrently); the replies."""

        async def burst() -> list[str]:
            calls = [self._deliver(notify_url, dict(params), method) for _ in range(count)]
            return [reply for _, reply in await asyncio.gather(*calls)]

        return self._call(burst(), timeout=60)

    # --- the site ---

    async def _submit(self, request: web.Request) -> web.Response:
        params = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        params = {**{k: v for k, v in request.query.items()}, **params}
        error = ""
        if params.get("pid") != self.pid:
            error = "商户不存在 (unknown merchant)"
        elif params.get("sign") != epay_sign(params, self.key):
            error = "签名校验失败 (bad signature)"
        elif not all(
            params.get(k) for k in ("type", "out_trade_no", "notify_url", "money", "name")
        ):
            error = "参数不完整 (missing parameters)"
        if error:
            self.submits_refused.append(error)
            return web.Response(status=400, text=error)
        with self._lock:
            known = params["out_trade_no"] in self.orders
            if not known:
                self.orders[params["out_trade_no"]] = {
                    **params,
                    "provider_trade_no": f"EP{next(self._trade_ids)}",
                }
        if self.auto_notify and not known:
            self._tasks[params["out_trade_no"]] = asyncio.ensure_future(
                self._notify_with_retries(params["out_trade_no"])
            )
        back = self.orders[params["out_trade_no"]].get("return_url", "")
        return web.Response(
            content_type="text/html", text=f'<p>支付成功 (paid)</p><a href="{back}">return</a>'
        )

    async def _notify_with_retries(self, out_trade_no: str) -> None:
        order = self.orders[out_trade_no]
        delays = list(self.retry_delays)
        corrupt, lose = self.corrupt_first, self.lose_replies
        for attempt in range(len(delays) + 1):
            params = self.notice(out_trade_no)
            if attempt < corrupt:
                params["sign"] = "0" * 32
            _, reply = await self._deliver(order["notify_url"], params, self.notify_method)
            if reply == "success" and lose <= 0:
                return
            if reply == "success":
                lose -= 1
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt])

    async def _deliver(self, url: str, params: dict[str, str], method: str) -> tuple[int, str]:
        assert self._session is not None
        try:
            if method.upper() == "POST":
                response = await self._session.post(url, data=params)
            else:
                response = await self._session.get(url, params=params)
            async with response:
                status, reply = response.status, (await response.text()).strip()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            status, reply = 0, f"error: {type(exc).__name__}"
        with self._lock:
            self.attempts.append(
                NotifyAttempt(params.get("out_trade_no", ""), method.upper(), status, reply)
            )
        return status, reply

    async def _settled(self, out_trade_no: str) -> str:
        while True:
            replies = self.replies(out_trade_no)
            task = self._tasks.get(out_trade_no)
            if replies and (task is None or task.done()):
                return replies[-1]
            await asyncio.sleep(0.02)

    # --- lifecycle ---

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/submit.php", self._submit)
        return app

    async def _on_start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=100),
        )

    async def _on_stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._session is not None:
            await self._session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="fake EPay site (submit.php + notify callbacks)")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--pid", default="1001")
    parser.add_argument("--key", default="epay-test-key")
    parser.add_argument("--notify-method", choices=("GET", "POST"), default="GET")
    args = parser.parse_args()
    fake = FakeEpay(args.pid, args.key, args.port)
    fake.notify_method = args.notify_method
    serve_until_interrupted(
        fake, lambda fake: f"fake EPay on {fake.base_url}/submit.php (pid {fake.pid}); Ctrl-C stops it")


if __name__ == "__main__":
    main()
