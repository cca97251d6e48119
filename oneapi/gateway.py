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

    from ._egress import Egress
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

    def egress(self) -> Egress:
        """Fetches of URLs clients gave: public addresses only (oneapi/_egress.py)."""
        found = self.memo.get("egress")
        if found is None:
            from ._egress import Egress

            found = self.memo["egress"] = Egress(self.settings.fetch_allowed)
        return found  # type: ignore[no-any-return]

    async def fetch_image(self, url: str) -> bytes:
        """The leading bytes of an image a client's message points at (enough for its size; time-
        limited, size-capped, public addresses only: FetchError otherwise)."""
        from ._imagesize import image_size

        fetched = await self.egress().fetch(url, max_bytes=1 << 20, timeout=10.0,
                                            enough=lambda data: image_size(data) is not None)
        return fetched.data


def gateway() -> Gateway:
    """The Gateway of the app serving the current request."""
    return current_app.extensions["oneapi"]  # type: ignore[no-any-return]
