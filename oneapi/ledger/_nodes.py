"""Which process holds a hold, whether it still lives, and the reconciler of holds left behind.

A hold row names its node (``host/boot``) and a lease that the live node keeps extending.
A node on the same host is known dead at once when its lock file is free (a SIGKILLed
process's lock is released by the kernel); a node elsewhere is dead when its leases expired.
The reconciler releases (refunds in full) the holds of dead nodes: a request whose settlement
never reached the database is not charged. That one rule applies everywhere, whatever was
delivered before the crash; the system log row it writes names the request.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import tempfile
import time
import uuid
from typing import IO, TYPE_CHECKING

from ._program import Hold, Release

if TYPE_CHECKING:
    from . import Ledger

__all__ = ["Node", "heartbeat", "reconcile"]

log = logging.getLogger("oneapi.ledger")

BATCH = 500  # holds per statement


class Node:
    """This process as the owner of holds: its id, and a lock file that dies with it."""

    def __init__(self, lock_dir: str | None = None) -> None:
        self.host = socket.gethostname()[:80] or "localhost"
        self.id = f"{self.host}/{uuid.uuid4().hex[:16]}"
        self.lock_dir = lock_dir or tempfile.gettempdir()
        self._lock: IO[str] | None = None

    def _path(self, node_id: str) -> str:
        return os.path.join(self.lock_dir, f"oneapi-node-{node_id.rsplit('/', 1)[-1]}.lock")

    def start(self) -> None:
        """Hold this node's lock file for the life of the process."""
        if self._lock is None:
            handle = open(self._path(self.id), "w")  # noqa: SIM115 - held open for the life of the process
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._lock = handle

    def stop(self, holds_left: bool) -> None:
        """Let go of the lock; its file stays while holds are left, so the next start on this
        host knows at once that they are orphans."""
        if self._lock is not None:
            path = self._lock.name
            self._lock.close()
            self._lock = None
            if not holds_left:
                with contextlib.suppress(OSError):
                    os.remove(path)

    def dead(self, node_id: str) -> bool:
        """Whether ``node_id`` is a process of this host that is gone (False: alive or elsewhere)."""
        if node_id == self.id or node_id.rsplit("/", 1)[0] != self.host:
            return False
        path = self._path(node_id)
        try:
            handle = open(path)  # noqa: SIM115
        except FileNotFoundError:
            return False  # never ran here, or /tmp was cleared: its leases tell
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False
        with contextlib.suppress(OSError):
            os.remove(path)
        return True


async def heartbeat(ledger: Ledger) -> None:
    """Extend the leases of this node's open holds."""
    due = [h.request_id for h in list(ledger.open.values())
           if h.written is not False and time.monotonic() - h.born >= ledger.lease / 4]
    until = int(time.time()) + ledger.lease
    for start in range(0, len(due), BATCH):
        chunk = due[start:start + BATCH]
        await ledger.db.execute(
            f"UPDATE quota_holds SET lease_until = ? WHERE request_id IN ({', '.join('?' * len(chunk))})",
            [until, *chunk],
        )


async def reconcile(ledger: Ledger) -> int:
    """Release the holds of dead nodes and of expired leases; returns how many were released."""
    now = int(time.time())
    rows = await ledger.db.fetch(
        "SELECT request_id, user_id, token_id, token_amount, amount, node, lease_until FROM quota_holds "
        "WHERE lease_until < ? OR node <> ? ORDER BY created_at LIMIT 5000", [now, ledger.node.id],
    )
    verdicts: dict[str, bool] = {}
    stale = []
    for row in rows:
        node = str(row["node"])
        if node == ledger.node.id and row["request_id"] in ledger.open:
            continue  # ours and alive; its lease lapsed while the database was away
        if int(row["lease_until"]) >= now:
            if node not in verdicts:
                verdicts[node] = ledger.node.dead(node)
            if not verdicts[node]:
                continue
        stale.append(row)
    for row in stale:
        hold = Hold(str(row["request_id"]), int(row["user_id"]), int(row["token_id"] or 0),
                    int(row["token_amount"] or 0) > 0, int(row["amount"]), written=True)
        why = "its node stopped" if verdicts.get(str(row["node"])) else "its lease expired"
        note = (f"reservation of {hold.amount} quota for request {hold.request_id} returned: {why} "
                f"before the request was settled (node {row['node']})")
        ledger.writer.submit(Release(hold, note=note))
    if stale:
        log.warning("reconciler: returning %d reservations left by stopped nodes", len(stale))
        await ledger.writer.flush()
    return len(stale)
