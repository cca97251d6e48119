"""Services: what the core lends a plugin at run time — the ledger, prices, options, channels,
accounts, payments, a database transaction, the HTTP client and Redis.

One per app. A plugin receives it in ``register_blueprints(app, services)`` and in its jobs,
and reaches it with ``current_services()`` while serving a request.
"""

from __future__ import annotations

import inspect
import logging
import random
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from quart import current_app

if TYPE_CHECKING:
    import httpx
    import redis.asyncio

    from .billing import Pricing
    from .gateway import Gateway
    from .ledger import Ledger
    from .options import Options
    from .payments import PaymentNotice
    from .registry import PaymentProvider
    from .relay.context import ChannelRecord, RelayContext, TokenRecord, UserRecord

__all__ = ["Services", "current_services", "serving"]

#: The Services of the request being served where there is no Quart app context (the fast lane).
serving: ContextVar[Services | None] = ContextVar("oneapi_serving", default=None)

log = logging.getLogger("oneapi.plugins")


class Services:
    """The core's services for plugins (a stable face over the app's internals)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self._rng = random.Random()
        #: Scratch space for plugins, kept for the life of the app (key by your plugin's name).
        self.memo: dict[str, Any] = {}

    # --- configuration ---

    @property
    def options(self) -> Options:
        """Options (table ``options``): ``get``, ``bool``, ``int``, ``float``, ``json``."""
        return self._gw.options

    @property
    def session_secret(self) -> str:
        """The app's secret, for signing URLs a plugin hands out."""
        return self._gw.session_secret

    @property
    def is_master(self) -> bool:
        """Whether this node runs the master-only work (migrations, pollers)."""
        return self._gw.settings.is_master

    # --- money ---

    @property
    def ledger(self) -> Ledger:
        """Holds and charges: ``billed_call``, ``reserve``/``settle``/``release``, ``credit_in``."""
        return self._gw.ledger

    @property
    def pricing(self) -> Pricing:
        """Prices: ``price(model, group)``, ``quota_per_unit()``, ``text_quota``, ``image_quota``."""
        return self._gw.pricing

    def model_prices(self) -> dict[str, float]:
        """Per-call prices in USD: the plugins' defaults overlaid by the ``ModelPrice`` option."""
        return {**self._gw.registry.model_prices, **self.options.json("ModelPrice")}

    async def quota_consumed(self, ctx: RelayContext, quota: int) -> None:
        """Tell every plugin's ``quota_consumed`` hook about a settled charge (failures are logged)."""
        try:
            for result in self._gw.pm.hook.quota_consumed(ctx=ctx, quota=quota):
                if inspect.isawaitable(result):
                    await result
        except Exception:
            log.exception("request %s: a quota_consumed hook failed", ctx.request_id)

    def payment_provider(self, name: str) -> PaymentProvider | None:
        """The loaded payment provider called ``name``."""
        return self._gw.registry.payment_providers.get(name)

    async def credit_order(self, notice: PaymentNotice) -> str:
        """Credit a paid top-up order once: ``"credited"`` or ``"duplicate"``; PaymentError otherwise."""
        from .payments import credit_order

        return await credit_order(self._gw, notice)

    # --- accounts and channels ---

    async def authenticate(self, key: str, client_ip: str) -> tuple[TokenRecord, UserRecord, int | None]:
        """A relay key (``sk-...``, optionally ``-<channel id>``): token, owner and pinned channel;
        RelayError 401/403 with the reason otherwise."""
        from .auth import authenticate_relay

        return await authenticate_relay(self._gw.cache, key, client_ip)

    def channel(self, channel_id: int) -> ChannelRecord | None:
        """A channel by id (cached; any status)."""
        return self._gw.cache.channels.by_id.get(channel_id)

    def pick_channel(self, group: str, model: str, exclude: set[int],
                     rng: random.Random | None = None) -> ChannelRecord | None:
        """An enabled channel of ``group`` serving ``model`` (priority, then weight), not in ``exclude``."""
        return self._gw.cache.channels.pick(group, model, exclude, rng or self._rng)

    def forget_user(self, user_id: int) -> None:
        """A user's balance changed outside the ledger's view: drop it from every node's cache."""
        self._gw.cache.invalidate_user(user_id)

    # --- counting ---

    async def count_chat_tokens(self, model: str, messages: list[Any], tools: Any = None) -> int:
        """Prompt tokens of OpenAI chat ``messages`` (and function ``tools``) for ``model``, counted
        by the gateway's tokenizer as billing counts a prompt that the upstream reported no usage for."""
        tok = self._gw.tokenizer
        count = await tok.count_messages_async(model, messages, self._gw.fetch_image)
        if tools:
            count += tok.count_tools(model, tools)
        return count

    # --- plumbing ---

    async def fetch_url(self, url: str, *, max_bytes: int, timeout: float) -> tuple[bytes, str]:
        """GET a URL a client gave (an image to inline, say): (body, content type). Only public
        addresses are reached (checked after DNS resolution and on every redirect; exceptions in
        FETCH_ALLOWED_NETWORKS); ValueError with the reason when refused, failed, or longer
        than ``max_bytes``. Never fetch a client's URL with ``http``."""
        fetched = await self._gw.egress().fetch(url, max_bytes=max_bytes, timeout=timeout, whole=True)
        return fetched.data, fetched.content_type

    @property
    def http(self) -> httpx.AsyncClient:
        """The shared upstream HTTP client (connection pools, timeouts)."""
        assert self._gw.http is not None, "the HTTP client exists once the app serves"
        return self._gw.http

    @property
    def redis(self) -> redis.asyncio.Redis | None:
        """The Redis client when ``REDIS_CONN_STRING`` is set."""
        link = self._gw.cache.redis
        return link.client if link is not None else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A database transaction that reads and then writes (a tortoise connection)."""
        from .db import write_transaction

        async with write_transaction() as conn:
            yield conn

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the response; shutdown waits for it. ``work`` handles its own errors."""
        self._gw.in_background(work)


def current_services() -> Services:
    """The Services of the app serving the current request (on either path to the relay)."""
    found = serving.get()
    if found is not None:
        return found
    return current_app.extensions["oneapi"].services  # type: ignore[no-any-return]
