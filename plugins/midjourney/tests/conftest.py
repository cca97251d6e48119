"""Fixtures of the Midjourney plugin's tests: one gateway process (fast poller) and one fake
Midjourney-Proxy for the session; each test gets its own group, user, token and channel, so
tests never pick each other's channels. At the end of every test the money invariant of the
ledger (``tests/ledger_invariant``) must hold for the test's users and tokens, with no hold
left open; ``node`` is the gateway app in the test's own process, for races."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Admin, GatewayWorld, start_world
from tests.fakes.midjourney_upstream import FakeMidjourney, Outcome
from tests.gateway import GatewayProcess, api
from tests.ledger_invariant import (
    Snapshot,
    check,
    duplicate_log_request_ids,
    holds,
    snapshot,
    wait_until_quiet,
)

ALL_MODELS = ("mj_imagine,mj_upscale,mj_variation,mj_reroll,mj_describe,mj_blend,mj_modal,"
              "mj_zoom,mj_custom_zoom,mj_pan,mj_high_variation,mj_low_variation,mj_inpaint,"
              "mj_shorten,swap_face,mj_upload,mj_pic_reader,mj_prompt_analyzer,mj_action")
POLL = "0.1"
PER_UNIT = 500_000


@pytest.fixture(scope="session")
def mj_world() -> Iterator[GatewayWorld]:
    with ExitStack() as stack:
        world = start_world(stack, "mj", owner=False)
        world.admin.option("MjPollInterval", POLL)
        yield world


@pytest.fixture(scope="session")
def mj_gateway(mj_world: GatewayWorld) -> GatewayProcess:
    return mj_world.gateway


@pytest.fixture(scope="session")
def mj_admin(mj_world: GatewayWorld) -> Admin:
    return mj_world.admin


@pytest.fixture(scope="session")
def fake_mj_session(mj_world: GatewayWorld) -> FakeMidjourney:
    return mj_world.fake(FakeMidjourney, secret="mj-secret")


@pytest.fixture
def fake_mj(fake_mj_session: FakeMidjourney) -> Iterator[FakeMidjourney]:
    fake_mj_session.reset()
    yield fake_mj_session
    fake_mj_session.reset()


class Mj:
    """One test's world: a fresh group with its own channel, user and token."""

    def __init__(self, gateway: GatewayProcess, admin: Admin, fake: FakeMidjourney) -> None:
        self.gateway = gateway
        self.admin = admin
        self.fake = fake
        self.group = "g" + uuid.uuid4().hex[:10]
        self.db = Path(gateway.env["SQLITE_PATH"])
        self.ledgers: list[tuple[Snapshot, int, int]] = []  # (balances then, user id, token id)
        self.channels: list[int] = []
        self.channel = self.add_channel(fake)
        self.user, self.token, self.key = self.add_user()
        self.http = httpx.Client(base_url=gateway.base_url, timeout=30,
                                 headers={"Authorization": f"Bearer sk-{self.key}"})
        self._session: httpx.Client | None = None
        self._sentinel: str | None = None  # upstream id of the task poll_rounds watches

    def add_channel(self, fake: FakeMidjourney, type: int = 5, key: str = "mj-secret",
                    **fields: Any) -> dict[str, Any]:
        channel = self.admin.channel(fake.base_url, ALL_MODELS, type=type, key=key,
                                     group=self.group, **fields)
        self.channels.append(channel["id"])
        return channel

    def add_user(self, quota: int = 10_000_000, **token_fields: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
        user = self.admin.user(quota=quota, group=self.group)
        token = self.admin.token(user, **token_fields)
        self.ledgers.append((snapshot(self.db), int(user["id"]), int(token["id"])))
        return user, token, token["key"].removeprefix("sk-")

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.gateway.base_url, timeout=30,
                            headers={"Authorization": f"Bearer sk-{key}"})

    def submit(self, route: str, body: dict[str, Any], client: httpx.Client | None = None,
               prefix: str = "") -> httpx.Response:
        path = "/mj/insight-face/swap" if route == "swap" else f"/mj/submit/{route}"
        return (client or self.http).post(prefix + path, json=body)

    def imagine(self, prompt: str = "a cat", **extra: Any) -> str:
        r = self.submit("imagine", {"prompt": prompt, **extra})
        assert r.status_code == 200 and r.json()["code"] == 1, r.text
        return str(r.json()["result"])

    def fetch(self, task_id: str, client: httpx.Client | None = None) -> httpx.Response:
        return (client or self.http).get(f"/mj/task/{task_id}/fetch")

    def wait(self, task_id: str, *statuses: str, timeout: float = 15,
             client: httpx.Client | None = None) -> dict[str, Any]:
        """Fetch until the task reaches one of ``statuses`` (the gateway's poller moves it)."""
        deadline = time.monotonic() + timeout
        task: dict[str, Any] = {}
        while time.monotonic() < deadline:
            task = self.fetch(task_id, client).json()
            if task.get("status") in statuses and (task["status"] != "FAILURE" or task["progress"] == "100%"):
                return task
            time.sleep(0.1)
        raise AssertionError(f"task {task_id} never reached {statuses}: {task}")

    def poll_rounds(self, rounds: int = 2, timeout: float = 10) -> None:
        """Wait until the gateway's poller has run ``rounds`` more whole rounds. An upstream task
        of this world that never finishes (its own user: the test's balances do not move) is
        in every round's list-by-condition call, so ``rounds + 1`` more calls with it mean
        ``rounds`` rounds ran from start to end."""
        if self._sentinel is None:
            assert not self.fake._outcomes, "the test's queued outcomes would go to the sentinel"
            self.fake.queue_outcome(Outcome(hold=True))
            _, _, key = self.add_user()
            with self.client(key) as client:
                r = self.submit("imagine", {"prompt": "poll sentinel"}, client)
            assert r.status_code == 200 and r.json()["code"] == 1, r.text
            (self._sentinel,) = [t.id for t in self.fake.tasks.values() if t.prompt == "poll sentinel"]
        wanted = self._sentinel_polls() + rounds + 1
        deadline = time.monotonic() + timeout
        while (seen := self._sentinel_polls()) < wanted:
            assert time.monotonic() < deadline, f"{seen} of {wanted} polls in {timeout} s"
            time.sleep(0.02)

    def _sentinel_polls(self) -> int:
        with self.fake._lock:
            requests = list(self.fake.requests)
        return sum(1 for r in requests if r.path.endswith("/list-by-condition")
                   and self._sentinel in [str(i) for i in ((r.json or {}).get("ids") or [])])

    def settled(self, timeout: float = 10) -> None:
        """Wait until no hold of this world's users is open (their charges are written)."""
        mine = {user_id for _, user_id, _ in self.ledgers}
        deadline = time.monotonic() + timeout
        while any(int(h["user_id"]) in mine for h in holds(self.db)):
            assert time.monotonic() < deadline, f"holds still open: {holds(self.db)}"
            time.sleep(0.02)

    def assert_ledger(self) -> None:
        """No hold left, and for each user and token of this world (since it was made):
        what it lost equals its consume logs (refunds negative); no request logged twice."""
        assert wait_until_quiet(self.db, 10) == []
        for before, user_id, token_id in self.ledgers:
            assert check(self.db, before, user_ids=[user_id], token_ids=[token_id]) == []
            assert duplicate_log_request_ids(self.db, since=before) == []

    def quotas(self) -> tuple[int, int, int]:
        """(user quota, user used quota, token remain quota), fresh from the database once
        the charges under way are written."""
        self.settled()
        user = self.admin.user_row(self.user["id"])
        token = api(self.session(), "GET", f"/api/token/{self.token['id']}")
        return int(user["quota"]), int(user["used_quota"]), int(token["remain_quota"])

    def logs(self, **params: Any) -> list[dict[str, Any]]:
        self.settled()
        return self.admin.logs(username=self.user["username"], **params)

    def refunds(self, task_id: str) -> list[dict[str, Any]]:
        """The refund logs of a task: consume logs of negative quota."""
        return [e for e in self.logs(type=2) if e["quota"] < 0 and task_id in e["content"]]

    def session(self) -> httpx.Client:
        """A web session of the test's user."""
        if self._session is None:
            self._session = self.gateway.login(self.user["username"], "password123")
        return self._session

    def close(self) -> None:
        """Delete the test's channels, so later polls skip its leftover tasks."""
        for channel_id in self.channels:
            self.admin.root.delete(f"/api/channel/{channel_id}")
        self.http.close()
        if self._session is not None:
            self._session.close()


@pytest.fixture
def mj(mj_gateway: GatewayProcess, mj_admin: Admin, fake_mj: FakeMidjourney) -> Iterator[Mj]:
    world = Mj(mj_gateway, mj_admin, fake_mj)
    try:
        yield world
        world.assert_ledger()
    finally:
        world.close()


def quota_of(usd: float) -> int:
    return int(usd * PER_UNIT)


@dataclass
class Node:
    """The gateway app in the test's own process (its poller off), with one user, one limited
    token and one Midjourney channel (type 5, ``mj_imagine``) on the fake."""

    gw: Any
    client: Any
    key: str
    db: Path
    before: Snapshot

    USER_QUOTA = 10_000_000
    TOKEN_QUOTA = 1_000_000

    async def submit(self, prompt: str, path: str = "/mj/submit/imagine") -> tuple[int, dict[str, Any]]:
        r = await self.client.post(path, json={"prompt": prompt},
                                   headers={"Authorization": f"Bearer sk-{self.key}"})
        return r.status_code, await r.get_json()

    async def quotas(self) -> tuple[int, int, int]:
        """(user quota, user used quota, token remain quota), once pending writes are written."""
        from oneapi.models import Token, User

        await self.gw.ledger.writer.flush()
        user = await User.get(username="racer")
        token = await Token.get(user_id=user.id)
        return user.quota, user.used_quota, token.remain_quota

    async def assert_ledger(self) -> None:
        await self.gw.ledger.writer.flush()
        assert holds(self.db) == []
        assert check(self.db, self.before) == []
        assert duplicate_log_request_ids(self.db, since=self.before) == []


@pytest.fixture
async def node(tmp_path: Path, fake_mj: FakeMidjourney) -> AsyncIterator[Node]:
    from oneapi.app import create_app
    from oneapi.models import Channel, Token, User
    from oneapi.settings import load_settings

    db = tmp_path / "one-api.db"
    app = create_app(load_settings(SQLITE_PATH=str(db), SESSION_SECRET="race"))
    await app.startup()
    gw = app.extensions["oneapi"]
    try:
        await gw.options.set("MjPollInterval", "0")
        user = await User.create(username="racer", quota=Node.USER_QUOTA, group="default")
        token = await Token.create(user_id=user.id, key="r" * 48, name="race", remain_quota=Node.TOKEN_QUOTA)
        await Channel.create(type=5, key="mj-secret", name="mj", base_url=fake_mj.base_url,
                             models="mj_imagine", group="default")
        await gw.cache.reload_channels()
        yield Node(gw, app.test_client(), token.key, db, snapshot(db))
    finally:
        await app.shutdown()
