"""Fixtures of the Midjourney plugin's tests: one gateway process (fast poller) and one fake
Midjourney-Proxy for the session; each test gets its own group, user, token and channel, so
tests never pick each other's channels."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Admin, gateway_env
from tests.fakes.midjourney_upstream import FakeMidjourney
from tests.gateway import GatewayProcess, api

ALL_MODELS = ("mj_imagine,mj_upscale,mj_variation,mj_reroll,mj_describe,mj_blend,mj_modal,"
              "mj_zoom,mj_custom_zoom,mj_pan,mj_high_variation,mj_low_variation,mj_inpaint,"
              "mj_shorten,swap_face,mj_upload,mj_pic_reader,mj_prompt_analyzer,mj_action")
POLL = "0.1"
PER_UNIT = 500_000


@pytest.fixture(scope="session")
def mj_gateway() -> Iterator[GatewayProcess]:
    gw = GatewayProcess(gateway_env(), name="mj").start()
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def mj_admin(mj_gateway: GatewayProcess) -> Admin:
    admin = Admin(mj_gateway, mj_gateway.login())
    admin.option("MjPollInterval", POLL)
    return admin


@pytest.fixture(scope="session")
def fake_mj_session() -> Iterator[FakeMidjourney]:
    with FakeMidjourney(secret="mj-secret") as fake:
        yield fake


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
        self.channels: list[int] = []
        self.channel = self.add_channel(fake)
        self.user, self.token, self.key = self.add_user()
        self.http = httpx.Client(base_url=gateway.base_url, timeout=30,
                                 headers={"Authorization": f"Bearer sk-{self.key}"})
        self._session: httpx.Client | None = None

    def add_channel(self, fake: FakeMidjourney, type: int = 5, key: str = "mj-secret",
                    **fields: Any) -> dict[str, Any]:
        channel = self.admin.channel(fake.base_url, ALL_MODELS, type=type, key=key,
                                     group=self.group, **fields)
        self.channels.append(channel["id"])
        return channel

    def add_user(self, quota: int = 10_000_000, **token_fields: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
        user = self.admin.user(quota=quota, group=self.group)
        token = self.admin.token(user, **token_fields)
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

    def quotas(self) -> tuple[int, int, int]:
        """(user quota, user used quota, token remain quota), fresh from the database."""
        user = self.admin.user_row(self.user["id"])
        token = api(self.session(), "GET", f"/api/token/{self.token['id']}")
        return int(user["quota"]), int(user["used_quota"]), int(token["remain_quota"])

    def logs(self, **params: Any) -> list[dict[str, Any]]:
        return self.admin.logs(username=self.user["username"], **params)

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
    yield world
    world.close()


def quota_of(usd: float) -> int:
    return int(usd * PER_UNIT)
