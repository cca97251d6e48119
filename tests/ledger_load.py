"""Shared pieces of the ledger's fault tests (tests/test_ledger_faults.py, tests/test_ledger_disk.py):
a database of each kind for a gateway subprocess, accounts set up through the management API,
and a bounded load of streamed and plain chat requests whose every outcome is recorded.

Every request of a load is bounded in time (``HANG``): one that neither answers nor fails in
that time is recorded as ``"hang"``, which the tests treat as a failure. All traffic goes to
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import Admin, gateway_env
from tests.dbs import mariadb_database, postgres_database
from tests.gateway import GatewayProcess
from tests.ledger_invariant import CONSUME, Snapshot, _read

MODEL = "test-model"
PRICES = (("ModelRatio", '{"test-model": 2}'), ("CompletionRatio", '{"test-model": 3}'))
HANG = 25.0  # seconds: a request that takes longer than this is a hang
DIALECTS = ("sqlite", "postgres", "mariadb")
PORTS = {"postgres": 5432, "mariadb": 3306}


# ----- databases ---------------------------------------------------------------------------
@dataclass
class Backend:
    """A fresh database: ``env`` points a gateway at it, ``db`` is what ledger_invariant reads."""

    kind: str
    env: dict[str, str]
    db: Any  # Path (SQLite) or the SQL_DSN

    def via(self, port: int) -> dict[str, str]:
        """``env`` with the database reached through 127.0.0.1:``port`` (a proxy) instead."""
        dsn = self.env["SQL_DSN"]
        real = f"127.0.0.1:{PORTS[self.kind]}"
        assert real in dsn, dsn
        return {**self.env, "SQL_DSN": dsn.replace(real, f"127.0.0.1:{port}")}


@contextlib.contextmanager
def backend(kind: str, directory: Path) -> Iterator[Backend]:
    if kind == "sqlite":
        path = directory / "one-api.db"
        yield Backend(kind, {"SQLITE_PATH": str(path)}, path)
        return
    with (postgres_database if kind == "postgres" else mariadb_database)() as dsn:
        yield Backend(kind, {"SQL_DSN": dsn}, dsn)


def start_gateway(env: dict[str, str], name: str = "ledger", **extra: str) -> GatewayProcess:
    """A gateway subprocess; SESSION_SECRET fixed so that a restart keeps the sessions."""
    return GatewayProcess(gateway_env(SESSION_SECRET="ledger-faults-secret", **env, **extra), name=name).start()


# ----- accounts ----------------------------------------------------------------------------
@dataclass
class Accounts:
    keys: list[str]  # token keys (without "sk-"): limited, unlimited, another user's limited
    user_ids: list[int]
    token_ids: list[int]
    channel_id: int


def set_up(gw: GatewayProcess, upstream_url: str) -> Accounts:
    """Prices, a channel to the fake upstream, two users with three tokens (one unlimited)."""
    root = gw.login()
    try:
        admin = Admin(gw, root)
        for key, value in PRICES:
            admin.option(key, value)
        channel = admin.channel(upstream_url, MODEL)
        first, second = admin.user(quota=50_000_000), admin.user(quota=50_000_000)
        tokens = [admin.token(first, remain_quota=5_000_000),
                  admin.token(first, remain_quota=0, unlimited_quota=True),
                  admin.token(second, remain_quota=5_000_000)]
    finally:
        root.close()
    return Accounts([t["key"] for t in tokens], [first["id"], second["id"]], [t["id"] for t in tokens],
                    channel["id"])


# ----- load --------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one client saw."""

    kind: str  # "plain" or "stream"
    status: int | None = None  # HTTP status; None: no response at all
    request_id: str = ""  # X-Oneapi-Request-Id
    error: str = ""  # "": a complete, well-formed answer; else what went wrong
    chunks: int = 0  # data events read (streams)
    done: bool = False  # plain: a 200 body with choices; stream: [DONE] read
    hung_up: bool = False  # the client left on purpose
    seconds: float = 0.0

    @property
    def clean_error(self) -> bool:
        """An HTTP error answer with an error JSON body."""
        return self.status is not None and self.status >= 400 and self.error == "error-json"


@dataclass
class Load:
    """Counters that a test watches while the load runs."""

    base_url: str
    keys: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    open_streams: int = 0  # streams that delivered a first chunk and are still being read
    finished: int = 0
    started: int = 0
    stopping: bool = False  # set: requests not yet started are skipped, those in flight finish
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def until(self, predicate: Callable[[Load], bool], timeout: float) -> bool:
        """Wait until ``predicate(self)`` holds (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, 0.05)):
                    await self._changed.wait()
        return True

    def _poke(self) -> None:
        self._changed.set()

    async def run(self, plan: list[tuple[str, int | None]], concurrency: int, spacing: float = 0.0) -> list[Outcome]:
        """Send ``plan``'s requests, ``concurrency`` at a time, ``spacing`` seconds between starts:
        ("plain", None) or ("stream", hang_up_after_chunks or None)."""
        limits = httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4)
        timeout = httpx.Timeout(HANG, connect=5.0)
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout, limits=limits) as client:
            async def one(i: int, kind: str, hang_up: int | None) -> None:
                async with gate:
                    if self.stopping:
                        return
                    self.started += 1
                    key = self.keys[i % len(self.keys)]
                    outcome = Outcome(kind)
                    began = time.monotonic()
                    try:
                        async with asyncio.timeout(HANG):
                            if kind == "plain":
                                await _plain(client, key, outcome)
                            else:
                                await self._stream(client, key, hang_up, outcome)
                    except TimeoutError:
                        outcome.error = "hang"
                    except httpx.TimeoutException:
                        outcome.error = "hang"
                    except httpx.TransportError as exc:
                        outcome.error = f"transport: {type(exc).__name__}"
                    outcome.seconds = time.monotonic() - began
                    self.outcomes.append(outcome)
                    self.finished += 1
                    self._poke()

            async def paced() -> None:
                tasks = []
                for i, (kind, hang_up) in enumerate(plan):
                    if self.stopping:
                        break
                    tasks.append(asyncio.create_task(one(i, kind, hang_up)))
                    if spacing:
                        await asyncio.sleep(spacing)
                await asyncio.gather(*tasks)

            await paced()
        return self.outcomes

    async def _stream(self, client: httpx.AsyncClient, key: str, hang_up: int | None, outcome: Outcome) -> None:
        body = {"model": MODEL, "max_tokens": 10, "stream": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "hi"}]}
        async with client.stream("POST", "/v1/chat/completions", json=body,
                                 headers={"Authorization": f"Bearer sk-{key}"}) as r:
            outcome.status = r.status_code
            outcome.request_id = r.headers.get("x-oneapi-request-id", "")
            if r.status_code != 200:
                _judge_error(await r.aread(), outcome)
                return
            counted = False
            try:
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    if line.strip() == "data: [DONE]":
                        outcome.done = True
                        break
                    outcome.chunks += 1
                    if not counted:
                        counted = True
                        self.open_streams += 1
                        self._poke()
                    if hang_up is not None and outcome.chunks >= hang_up:
                        outcome.hung_up = True
                        break  # leaving the block closes the connection mid-stream
            finally:
                if counted:
                    self.open_streams -= 1
                    self._poke()
            if not outcome.done and not outcome.hung_up:
                outcome.error = "stream ended early"


async def _plain(client: httpx.AsyncClient, key: str, outcome: Outcome) -> None:
    r = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer sk-{key}"},
                          json={"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
    outcome.status = r.status_code
    outcome.request_id = r.headers.get("x-oneapi-request-id", "")
    if r.status_code != 200:
        _judge_error(r.content, outcome)
        return
    try:
        outcome.done = bool(orjson.loads(r.content)["choices"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        outcome.error = "bad 200 body"


def _judge_error(content: bytes, outcome: Outcome) -> None:
    try:
        body = orjson.loads(content)
        outcome.error = "error-json" if isinstance(body.get("error"), dict) else "error body without error"
    except (orjson.JSONDecodeError, AttributeError):
        outcome.error = f"non-JSON error body: {content[:120]!r}"


def summary(outcomes: list[Outcome]) -> Counter[str]:
    """How many outcomes of each (kind, status, error) — for assertion messages."""
    return Counter(f"{o.kind} {o.status} {o.error or ('done' if o.done else 'hung up' if o.hung_up else '?')}"
                   for o in outcomes)


# ----- reading the database ----------------------------------------------------------------
def consume_logs(db: Any, since: Snapshot) -> Counter[str]:
    """request id -> number of consume log rows written after ``since``."""
    rows = _read(db, f"SELECT request_id, COUNT(*) AS n FROM logs WHERE type = {CONSUME} "
                     f"AND id > {since.max_log_id} GROUP BY request_id")[0]
    return Counter({str(r["request_id"]): int(r["n"]) for r in rows})


def system_notes(db: Any, since: Snapshot) -> set[str]:
    """Request ids named by system logs (the reconciler's notes) written after ``since``."""
    rows = _read(db, f"SELECT request_id FROM logs WHERE type = 4 AND id > {since.max_log_id} "
                     "AND request_id <> ''")[0]
    return {str(r["request_id"]) for r in rows}


def tracebacks(gw: GatewayProcess) -> int:
    """Lines with 'Traceback' in the gateway's whole log."""
    return gw.log_path.read_text(errors="replace").count("Traceback")


def full_log(gw: GatewayProcess) -> str:
    return gw.log_path.read_text(errors="replace") if gw.log_path.exists() else ""


def diagnosis(db: Any, since: Snapshot, outcomes: list[Outcome] | None = None) -> dict[str, Any]:
    """What tells where money moved twice: request ids whose hold was returned more than once
    (several reconciler notes), returned although charged (a note and a consume log), and the
    operations recorded in ledger_failures — for assertion messages."""
    after = since.max_log_id
    notes, logs, failures = _read(
        db,
        f"SELECT request_id, COUNT(*) AS n FROM logs WHERE type = 4 AND id > {after} AND request_id <> '' "
        "GROUP BY request_id",
        f"SELECT request_id, COUNT(*) AS n FROM logs WHERE type = {CONSUME} AND id > {after} GROUP BY request_id",
        "SELECT request_id, kind, reason FROM ledger_failures",
    )
    noted = {str(r["request_id"]): int(r["n"]) for r in notes}
    charged = {str(r["request_id"]): int(r["n"]) for r in logs}
    status = {o.request_id: f"{o.kind} {o.status}" for o in outcomes or [] if o.request_id}
    return {
        "returned more than once": {rid: (n, status.get(rid)) for rid, n in noted.items() if n > 1},
        "returned and charged": {rid: (noted[rid], charged[rid], status.get(rid)) for rid in noted if rid in charged},
        "notes": len(noted),
        "ledger_failures": [dict(r) for r in failures][:10],
    }
