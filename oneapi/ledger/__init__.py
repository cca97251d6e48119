"""The quota ledger: every movement of quota, durable, exact and counted once.

A request's reservation is a *hold*: taken from token and user and recorded as a
``quota_holds`` row in one transaction. It ends in exactly one of two ways:

- settled: one transaction deletes the hold, charges the real cost (an overage over the hold
  is charged in full: balances may go below zero, and the next request is refused), grows the
  used quota of user, token and channel, and writes the consume log;
- released: one transaction deletes the hold and gives it back.

Both are idempotent by request id (see ``_program``). Holds left by a process that died are
released by the reconciler (``_nodes``). So at every quiet moment, for every token and user:
initial − current = Σ consume logs + Σ open holds.

Plugins charge for an upstream call of their own through ``billed_call``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..relay.context import RelayContext, RelayError
from ._nodes import Node, heartbeat, reconcile
from ._program import Credit, Hold, Release, Settle, Take
from ._writer import LedgerUnavailable, Writer, write_async

if TYPE_CHECKING:
    from ..db import Database
    from ._local import LocalQuota

__all__ = ["Bill", "Hold", "Ledger", "LedgerUnavailable", "Node", "Writer", "heartbeat", "reconcile"]

log = logging.getLogger("oneapi.ledger")

T = TypeVar("T")


async def _account_names(conn: Any, user_id: int, token_id: int) -> dict[str, str]:
    """The user's and the token's names as a consume log shows them ("" when gone)."""
    from ..models import Token, User

    user = await User.filter(id=user_id).using_db(conn).only("id", "username").first()
    token = await Token.filter(id=token_id).using_db(conn).only("id", "name").first() if token_id else None
    return {"username": user.username if user else "", "token_name": token.name if token else ""}


def _not_enough(whose: str, amount: int) -> RelayError:
    return RelayError(
        403, f"{whose} quota is not enough for this request (needs {amount})",
        "insufficient_quota", f"insufficient_{whose}_quota",
    )


def unavailable() -> RelayError:
    return RelayError(503, "billing is unavailable at the moment; the request was not charged, "
                      "please retry", "one_api_error", "billing_unavailable")


@dataclass(slots=True)
class Bill:
    """What a billed call keeps: ``keep(quota, ...)`` charges it, leaving it unkept refunds."""

    hold: Hold
    quota: int | None = None
    channel_id: int = 0
    log: dict[str, Any] = field(default_factory=dict)

    def keep(self, quota: int, *, channel_id: int = 0, **log: Any) -> None:
        """Charge ``quota`` (the consume log gets ``log``'s fields) when the call returns."""
        self.quota, self.channel_id, self.log = quota, channel_id, log


class Ledger:
    """Holds, settlements, releases and credits of quota, written by one ``Writer``."""

    def __init__(self, db: Database, writer: Writer, local: LocalQuota | None = None,
                 node: Node | None = None, lease: int = 60) -> None:
        self.db = db
        self.writer = writer
        self.local = local  # BATCH_UPDATE_ENABLED: reservations checked in memory, written with the batch
        self.node = node or Node()
        self.lease = lease
        # Holds this process answers for until their settlement or release is written: their
        # leases are extended (also while the database is away), the reconciler leaves them be.
        self.open: dict[str, Hold] = {}
        writer.on_closed = self._closed

    async def reserve(self, ctx: RelayContext, amount: int) -> Hold:
        """Hold ``amount`` from ctx's token and user; RelayError 403 if short, 503 if the database
        cannot take it. A cancelled caller never leaves a hold behind."""
        token = ctx.token
        hold = Hold(ctx.request_id, ctx.user.id, token.id, not token.unlimited_quota, max(amount, 0))
        if hold.amount == 0:
            return hold
        if self.writer.overloaded:
            raise unavailable()
        take = Take(hold, checked=self.local is None, node=self.node.id,
                    lease_until=int(time.time()) + self.lease)
        if self.local is not None:
            outcome = await self.local.reserve(hold.token_id if hold.token_limited else None, hold.user_id,
                                               hold.amount)
            if outcome != "ok":
                raise _not_enough(outcome, amount)
            self.writer.submit(take)  # no await since the check: nobody else took it meanwhile
        else:
            future = self.writer.take_now(take)
            try:
                outcome = await asyncio.shield(future)
            except asyncio.CancelledError:
                self.writer.abandon(take, lambda: self.release(hold))
                raise
            except LedgerUnavailable:
                raise unavailable() from None
            if outcome != "ok":
                raise _not_enough(outcome, amount)
        self.open[hold.request_id] = hold
        return hold

    def settle(self, hold: Hold, charge: int, channel_id: int, log_fields: dict[str, Any]) -> None:
        """Charge exactly ``charge`` for the hold's request and write its consume log."""
        if hold.done:
            log.warning("request %s was settled or released already; not again", hold.request_id)
            return
        hold.done = True
        self.writer.submit(Settle(hold, max(int(charge), 0), channel_id, log_fields))

    def release(self, hold: Hold, note: str = "") -> None:
        """Give the hold back in full (nothing was delivered)."""
        if hold.done:
            return
        hold.done = True
        if hold.amount:
            self.writer.submit(Release(hold, note=note))
        else:
            self.open.pop(hold.request_id, None)

    def _closed(self, request_id: str) -> None:
        self.open.pop(request_id, None)

    async def credit_in(self, conn: Any, *, request_id: str, of_request: str, user_id: int, token_id: int,
                        channel_id: int, amount: int, **log_fields: Any) -> None:
        """Give back ``amount`` of the charge of request ``of_request``, inside the caller's
        transaction ``conn``: a consume log of negative quota, once per ``request_id``, and only
        if that charge is in the ledger. Concurrent credits of one request id must be kept apart
        by the caller (a status compare-and-set in ``conn``, say). The log names the user and
        token unless ``log_fields`` does."""
        if "username" not in log_fields or "token_name" not in log_fields:
            log_fields = {**await _account_names(conn, user_id, token_id), **log_fields}
        await write_async(self.db, [Credit(request_id, of_request, user_id, token_id, channel_id, amount,
                                           log_fields)], conn)
        if self.local is not None:
            self.local.forget()

    async def billed_call(self, ctx: RelayContext, amount: int, call: Callable[[Bill], Awaitable[T]]) -> T:
        """Hold ``amount``, run ``call(bill)``, then settle what the bill kept (written before this
        returns, unless the database fails) or release the hold.

        The call runs to its end even if the caller is cancelled (a client that hangs up after
        its job reached the upstream is billed as if it had stayed); an exception releases."""
        hold = await self.reserve(ctx, amount)
        bill = Bill(hold)
        work = asyncio.ensure_future(self._billed(bill, call))
        work.add_done_callback(_retrieve)
        return await asyncio.shield(work)

    async def _billed(self, bill: Bill, call: Callable[[Bill], Awaitable[T]]) -> T:
        try:
            result = await call(bill)
        except BaseException:
            self.release(bill.hold)
            raise
        if bill.quota is None:
            self.release(bill.hold)
        else:
            self.settle(bill.hold, bill.quota, bill.channel_id, bill.log)
            # Written before the caller answers: what it made (a task, say) may be refunded
            # through ``credit_in`` at once, which only gives back charges in the ledger.
            await self.writer.flush()
        return result

    async def start(self, reconcile_now: bool) -> None:
        """Take this node's lock; on the master, release what dead nodes left at once."""
        self.node.start()
        if reconcile_now:
            try:
                await reconcile(self)
            except Exception:
                log.exception("reconciler: the holds left by stopped nodes could not be read; retried later")

    async def aclose(self) -> None:
        """Write what is pending (what cannot be is left as holds), then let go of the node."""
        await self.writer.aclose()
        self.node.stop(holds_left=bool(self.writer.pending or self.open))


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # seen: a caller that left does not leave "never retrieved" warnings
