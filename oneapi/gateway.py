"""The Gateway: everything a request handler needs, built once per app by ``create_app``.

Blueprints reach it through ``gateway()``; this module imports no other part of the core at
import time, so any module may import it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quart import current_app

from .services import Services

if TYPE_CHECKING:
    import httpx
    import pluggy

    from .adaptor import Adaptor
    from .billing import Pricing
    from .cache import Cache
    from .db import Database
    from .ledger import Ledger
    from .options import Options
    from .plugins import PluginInfo
    from .registry import Registry
    from .settings import Settings
    from .tokenizer import Tokenizer

__all__ = ["Gateway", "gateway"]


@dataclass
class Gateway:
    """Everything a request handler needs, built once per app (no import-time globals)."""

    settings: Settings
    pm: pluggy.PluginManager
    plugins: dict[str, PluginInfo]
    registry: Registry
    db: Database
    options: Options
    cache: Cache
    pricing: Pricing
    ledger: Ledger
    tokenizer: Tokenizer
    estimator: Tokenizer
    session_secret: str
    start_time: int = field(default_factory=lambda: int(time.time()))
    http: httpx.AsyncClient | None = None
    adaptors: dict[int, Adaptor] = field(default_factory=dict)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    settling: set[asyncio.Task[Any]] = field(default_factory=set)
    plugin_routes: dict[str, list[str]] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)
    services: Services = field(init=False)

    def __post_init__(self) -> None:
        self.services = Services(self)

    def adaptor(self, channel_type: int) -> Adaptor | None:
        return self.adaptors.get(channel_type)

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the response; shutdown waits for it. Cheaper than Quart's
        background tasks (no app context); ``work`` must handle its own errors."""
        task = asyncio.get_running_loop().create_task(work)
        self.settling.add(task)
        task.add_done_callback(self.settling.discard)

    async def fetch_image(self, url: str) -> bytes:
        """An image a user's message points at (time-limited and size-capped)."""
        fetcher = self.memo.get("image_fetcher")
        if fetcher is None:
            from .tokenizer import http_image_fetcher

            assert self.http is not None
            fetcher = self.memo["image_fetcher"] = http_image_fetcher(self.http, timeout=10.0)
        return await fetcher(url)  # type: ignore[no-any-return]



def gateway() -> Gateway:
    """The Gateway of the app serving the current request."""
    return current_app.extensions["oneapi"]  # type: ignore[no-any-return]
