"""The ledger's writes: holds, settlements, releases and credits, as one program of SQL
statements that runs in one transaction on SQLite, PostgreSQL and MySQL alike.

The program is a generator that yields statements and is sent their results, so the same
code runs on the event loop's own sqlite3 connection (synchronously) and on an ORM
transaction (asynchronously). Each operation counts once, whatever is replayed:

- a take decrements token and user and inserts the hold row (primary key: request id);
- a settlement deletes its hold: where the hold was there, the difference between hold and
  charge is applied; where it was not (a reconciler released it, or an earlier try of this
  very write committed although its reply was lost), the consume log with the request id
  tells whether it was settled already; if not, the whole charge is applied;
- a release deletes its hold and gives it back only if it was there;
- a credit (a refund of a charge, e.g. of a plugin's job that failed later) is a consume log of negative
  quota, written once per request id.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["Credit", "Failed", "Hold", "Op", "Release", "Settle", "Take", "program"]

LOG_CONSUME, LOG_SYSTEM = 2, 4

LOG_COLUMNS = (
    "user_id", "token_id", "created_at", "type", "content", "username", "token_name", "model_name",
    "quota", "prompt_tokens", "completion_tokens", "channel_id", "request_id", "elapsed_time",
    "is_stream", "system_prompt_reset",
)
_LOG_DEFAULTS: dict[str, Any] = {
    "content": "", "username": "", "token_name": "", "model_name": "", "quota": 0, "prompt_tokens": 0,
    "completion_tokens": 0, "channel_id": 0, "request_id": "", "elapsed_time": 0, "is_stream": False,
    "system_prompt_reset": False,
}
INSERT_LOG = f"INSERT INTO logs ({', '.join(LOG_COLUMNS)}) VALUES ({', '.join('?' * len(LOG_COLUMNS))})"
INSERT_HOLD = (
    "INSERT INTO quota_holds (request_id, user_id, token_id, token_amount, amount, node, lease_until, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_FAILURE = "INSERT INTO ledger_failures (request_id, kind, payload, reason, created_at) VALUES (?, ?, ?, ?, ?)"
TAKE_TOKEN = "UPDATE tokens SET remain_quota = remain_quota - ? WHERE id = ? AND remain_quota >= ?"
TAKE_USER = "UPDATE users SET quota = quota - ? WHERE id = ? AND quota >= ?"
UNTAKE_TOKEN = "UPDATE tokens SET remain_quota = remain_quota + ? WHERE id = ?"
_FORCE_TOKEN = "UPDATE tokens SET remain_quota = remain_quota - ? WHERE id = ?"
_FORCE_USER = "UPDATE users SET quota = quota - ? WHERE id = ?"
_SETTLE_TOKEN = (
    "UPDATE tokens SET remain_quota = remain_quota + ?, used_quota = used_quota + ?, "
    "accessed_time = CASE WHEN accessed_time > ? THEN accessed_time ELSE ? END WHERE id = ?"
)
_SETTLE_USER = (
    "UPDATE users SET quota = quota + ?, used_quota = used_quota + ?, request_count = request_count + ? "
    "WHERE id = ?"
)
_CREDIT_TOKEN = (  # unlimited tokens keep their remaining quota as it is
    "UPDATE tokens SET remain_quota = remain_quota + (CASE WHEN unlimited_quota THEN 0 ELSE ? END), "
    "used_quota = used_quota - ? WHERE id = ?"
)
_CHANNEL_USED = "UPDATE channels SET used_quota = used_quota + ? WHERE id = ?"


@dataclass(slots=True, eq=False)
class Hold:
    """Quota reserved for one request: ``amount`` from the user, the same from a limited token."""

    request_id: str
    user_id: int
    token_id: int  # 0: no token (a plugin's own call)
    token_limited: bool
    amount: int
    written: bool | None = False  # its row is in the database; None: unknown (a write was cut off)
    done: bool = False  # settled or released here
    born: float = field(default_factory=time.monotonic)

    @property
    def token_amount(self) -> int:
        return self.amount if self.token_limited else 0


@dataclass(slots=True, eq=False)
class Take:
    """Reserve a hold; ``checked``: only if token and user have enough (else in memory already)."""

    hold: Hold
    checked: bool
    node: str
    lease_until: int
    future: asyncio.Future[str] | None = None
    outcome: str = ""  # "ok", or whose quota was short: "token", "user"


@dataclass(slots=True, eq=False)
class Settle:
    """Charge ``charge`` for a hold's request and write its consume log."""

    hold: Hold
    charge: int
    channel_id: int
    log: dict[str, Any]
    maybe_done: bool = False  # an earlier try may have committed


@dataclass(slots=True, eq=False)
class Release:
    """Give a hold back in full; ``note`` (if any) becomes a system log when it was still open."""

    hold: Hold
    note: str = ""
    maybe_done: bool = False


@dataclass(slots=True, eq=False)
class Credit:
    """Give back ``amount`` of the charge of request ``of_request``, once per ``request_id``, and
    only if that charge was made (a crash may have released its hold instead); an empty
    ``of_request`` (a charge made before this ledger) is not checked."""

    request_id: str
    of_request: str
    user_id: int
    token_id: int
    channel_id: int
    amount: int
    log: dict[str, Any]
    maybe_done: bool = False


@dataclass(slots=True, eq=False)
class Failed:
    """An operation that cannot be written: recorded with the reason; a settlement's hold is released."""

    op: Take | Settle | Release | Credit
    reason: str
    maybe_done: bool = False


Op = Take | Settle | Release | Credit | Failed

# A statement: ("exec", sql, args) → rowcount; ("ids", sql, args) → first column values;
# ("many", sql, rows) → None.
Statement = tuple[str, str, Any]


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _log_row(fields: dict[str, Any], hold_token: int, user_id: int) -> list[Any]:
    row = {**_LOG_DEFAULTS, **fields}
    row.setdefault("user_id", user_id)
    row.setdefault("token_id", hold_token)
    row.setdefault("created_at", int(time.time()))
    row.setdefault("type", LOG_CONSUME)
    return [row.get(c) for c in LOG_COLUMNS]


def _closing(op: Op) -> Hold | None:
    if isinstance(op, Settle | Release):
        return op.hold
    if isinstance(op, Failed) and isinstance(op.op, Settle | Release):
        return op.op.hold
    return None


def program(ops: list[Op], sqlite: bool) -> Generator[Statement, Any, None]:
    """Apply ``ops``: closings first (their refunds may make room for takes), then takes; sets
    each take's ``outcome``. Run inside one transaction."""
    holds = [h for h in map(_closing, ops) if h is not None and h.written is not False]
    present: set[str] = set()
    if holds:  # deleting a hold is what makes its settlement or release count once
        if sqlite:
            for hold in holds:
                if (yield ("exec", "DELETE FROM quota_holds WHERE request_id = ?", [hold.request_id])):
                    present.add(hold.request_id)
        else:
            ids = [h.request_id for h in holds]
            found = yield ("ids", "SELECT request_id FROM quota_holds WHERE request_id IN "
                                  f"({_marks(len(ids))}) FOR UPDATE", ids)
            present = set(found)
            if present:
                yield ("exec", f"DELETE FROM quota_holds WHERE request_id IN ({_marks(len(present))})",
                       sorted(present))
    # Two closings of one hold in one write (a release by the reconciler, say): the first takes
    # the hold, the second is judged by the consume log.
    twice = {rid for rid, n in Counter(h.request_id for h in holds).items() if n > 1} if len(holds) > 1 else set()
    doubtful = [rid for rid, op in zip(map(_charge_id, ops), ops, strict=True)
                if rid and (rid not in present or rid in twice) and (_needs_check(op) or rid in twice)]
    doubtful += [op.of_request for op in ops if isinstance(op, Credit) and op.of_request]
    logged: set[str] = set()
    if doubtful:
        logged = set((yield ("ids", "SELECT request_id FROM logs WHERE type = 2 AND request_id IN "
                                    f"({_marks(len(doubtful))})", doubtful)))
    tokens: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # remaining, used, accessed
    users: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])  # quota, used, requests
    channels: dict[int, int] = defaultdict(int)
    credits: list[list[int]] = []
    logs: list[list[Any]] = []
    failures: list[list[Any]] = []
    for op in ops:
        if isinstance(op, Failed):
            failures.append(_failure_row(op))
            op = op.op  # a failed settlement or release still gives its hold back
            if isinstance(op, Settle):
                op = Release(op.hold)
            elif not isinstance(op, Release):
                continue
        if isinstance(op, Settle):
            hold = op.hold
            there = hold.request_id in present
            present.discard(hold.request_id)  # a hold is given back or charged against once
            if not there and hold.request_id in logged:
                continue  # settled before
            user, token = users[hold.user_id], tokens[hold.token_id]
            user[0] += (hold.amount if there else 0) - op.charge
            user[1] += op.charge
            user[2] += 1
            if hold.token_id:
                if hold.token_limited:
                    token[0] += (hold.token_amount if there else 0) - op.charge
                token[1] += op.charge
                accessed = int(op.log.get("created_at") or time.time())
                token[2] = max(token[2], accessed)
            if op.channel_id and op.charge:
                channels[op.channel_id] += op.charge
            logs.append(_log_row({**op.log, "quota": op.charge, "request_id": hold.request_id,
                                  "channel_id": op.channel_id},
                                 hold.token_id, hold.user_id))
        elif isinstance(op, Release):
            hold = op.hold
            if hold.request_id not in present:
                continue
            present.discard(hold.request_id)
            users[hold.user_id][0] += hold.amount
            if hold.token_id and hold.token_limited:
                tokens[hold.token_id][0] += hold.token_amount
            if op.note:
                logs.append(_log_row({"type": LOG_SYSTEM, "content": op.note, "request_id": hold.request_id},
                                     hold.token_id, hold.user_id))
        elif isinstance(op, Credit):
            if op.request_id in logged or (op.of_request and op.of_request not in logged):
                continue  # given back before, or never charged
            users[op.user_id][0] += op.amount
            users[op.user_id][1] -= op.amount
            if op.token_id:
                credits.append([op.amount, op.amount, op.token_id])
            if op.channel_id:
                channels[op.channel_id] -= op.amount
            logs.append(_log_row({**op.log, "quota": -op.amount, "request_id": op.request_id,
                                  "channel_id": op.channel_id},
                                 op.token_id, op.user_id))
    if tokens:
        yield ("many", _SETTLE_TOKEN, [[r, u, a, a, tid] for tid, (r, u, a) in tokens.items() if tid])
    if users:
        yield ("many", _SETTLE_USER, [[q, u, n, uid] for uid, (q, u, n) in users.items()])
    if credits:
        yield ("many", _CREDIT_TOKEN, credits)
    if channels:
        yield ("many", _CHANNEL_USED, [[used, cid] for cid, used in channels.items()])
    if logs:
        yield ("many", INSERT_LOG, logs)
    if failures:
        yield ("many", INSERT_FAILURE, failures)
    yield from _takes([op for op in ops if isinstance(op, Take)], sqlite)


def _charge_id(op: Op) -> str:
    """The request id whose consume log shows that ``op`` was applied before, if it can tell."""
    if isinstance(op, Settle):
        return op.hold.request_id
    if isinstance(op, Credit):
        return op.request_id
    return ""


def _needs_check(op: Op) -> bool:
    """A missing hold means "settled before" only where the hold was written or a try may have
    committed; a credit is always checked (it has no hold)."""
    if isinstance(op, Credit):
        return True
    assert isinstance(op, Settle)
    return op.hold.written is not False or op.maybe_done


def _takes(takes: list[Take], sqlite: bool) -> Generator[Statement, Any, None]:
    rows = []
    for take in takes:
        hold = take.hold
        if take.checked:
            take.outcome = yield from _checked_take(hold)
        else:  # checked in memory (BATCH_UPDATE_ENABLED): balances may go below zero across nodes
            if hold.token_limited:
                yield ("exec", _FORCE_TOKEN, [hold.amount, hold.token_id])
            yield ("exec", _FORCE_USER, [hold.amount, hold.user_id])
            take.outcome = "ok"
        if take.outcome == "ok":
            rows.append([hold.request_id, hold.user_id, hold.token_id, hold.token_amount, hold.amount,
                         take.node, take.lease_until, int(time.time())])
    if rows:
        yield ("many", INSERT_HOLD, rows)


def _checked_take(hold: Hold) -> Generator[Statement, Any, str]:
    if hold.token_limited and not (yield ("exec", TAKE_TOKEN, [hold.amount, hold.token_id, hold.amount])):
        return "token"
    if not (yield ("exec", TAKE_USER, [hold.amount, hold.user_id, hold.amount])):
        if hold.token_limited:
            yield ("exec", UNTAKE_TOKEN, [hold.amount, hold.token_id])
        return "user"
    return "ok"


def _failure_row(failed: Failed) -> list[Any]:
    op = failed.op
    rid = op.request_id if isinstance(op, Credit) else op.hold.request_id
    payload = {"kind": type(op).__name__.lower(), **{k: getattr(op, k) for k in op.__slots__
                                                     if k not in ("hold", "future")}}
    if not isinstance(op, Credit):
        payload["hold"] = {k: getattr(op.hold, k) for k in ("user_id", "token_id", "token_limited", "amount")}
    blob = orjson.dumps(payload, default=str).decode()
    return [rid[:64], type(op).__name__.lower(), blob, failed.reason[:2000], int(time.time())]
