"""Shared fixtures: a fake OpenAI upstream and a real gateway process on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests import services
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, api

ECHO_SITE = str(Path(__file__).parent / "plugins" / "site")

# Under CI=true a skipped PostgreSQL/MariaDB/Redis test fails the run (tests/services.py).
pytest_sessionstart = services.pytest_sessionstart
pytest_runtest_logreport = services.pytest_runtest_logreport
pytest_sessionfinish = services.pytest_sessionfinish
pytest_terminal_summary = services.pytest_terminal_summary


def gateway_env(**extra: str) -> dict[str, str]:
    """Environment for a test gateway: the echo test plugin on the path, no tiktoken downloads."""
    path = os.pathsep.join(p for p in (ECHO_SITE, os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **extra}


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def upstream(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's fake upstream, reset before and after each test."""
    fake_openai.reset()
    yield fake_openai
    fake_openai.reset()


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayProcess]:
    gw = GatewayProcess(gateway_env()).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def root(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    client = gateway.login()
    yield client
    client.close()


class Admin:
    """Sets up channels, users and tokens through the management API."""

    def __init__(self, gateway: GatewayProcess, root: httpx.Client) -> None:
        self.gateway = gateway
        self.root = root
        self.counter = 0

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{os.getpid() % 1000}{self.counter}"

    def channel(self, base_url: str, models: str, **fields: Any) -> dict[str, Any]:
        body = {"type": 1, "name": self.unique("ch"), "key": "sk-upstream", "base_url": base_url,
                "models": models, "group": "default", **fields}
        api(self.root, "POST", "/api/channel/", json=body)
        found = api(self.root, "GET", "/api/channel/search", params={"keyword": body["name"]})
        return dict(found[0])

    def update_channel(self, channel_id: int, **fields: Any) -> None:
        current = api(self.root, "GET", f"/api/channel/{channel_id}")
        api(self.root, "PUT", "/api/channel/", json={**current, **fields})

    def delete_channel(self, channel_id: int) -> None:
        api(self.root, "DELETE", f"/api/channel/{channel_id}")

    def user(self, quota: int = 10_000_000, group: str = "default") -> dict[str, Any]:
        name = self.unique("u")
        api(self.root, "POST", "/api/user/", json={"username": name, "password": "password123",
                                                    "display_name": name})
        found = api(self.root, "GET", "/api/user/search", params={"keyword": name})
        user = dict(found[0])
        api(self.root, "PUT", "/api/user/", json={**user, "quota": quota, "group": group})
        return dict(api(self.root, "GET", f"/api/user/{user['id']}"))

    def token(self, user: dict[str, Any], **fields: Any) -> dict[str, Any]:
        client = self.gateway.login(user["username"], "password123")
        body = {"name": self.unique("t"), "remain_quota": 1_000_000, "unlimited_quota": False,
                "expired_time": -1, **fields}
        data = api(client, "POST", "/api/token/", json=body)
        if not isinstance(data, dict) or "key" not in data:
            found = api(client, "GET", "/api/token/search", params={"keyword": body["name"]})
            data = found[0]
        client.close()
        return dict(data)

    def option(self, key: str, value: str) -> None:
        api(self.root, "PUT", "/api/option/", json={"key": key, "value": value})

    def user_row(self, user_id: int) -> dict[str, Any]:
        return dict(api(self.root, "GET", f"/api/user/{user_id}"))

    def logs(self, **params: Any) -> list[dict[str, Any]]:
        return list(api(self.root, "GET", "/api/log/", params={"page_size": 100, **params}))

    def settled(self, user_id: int, timeout: float = 10) -> None:
        """Wait until no quota hold of the user is open: every request of theirs that the gateway
        has reserved for is charged (its consume log written with it) or given back."""
        deadline = time.monotonic() + timeout
        while True:
            left = [h for h in api(self.root, "GET", "/api/log/holds", params={"page_size": 100})
                    if h["user_id"] == user_id]
            if not left:
                return
            assert time.monotonic() < deadline, f"holds of user {user_id} still open: {left}"
            time.sleep(0.02)


@contextlib.contextmanager
def logged_in_user(admin: Admin, quota: int = 100_000_000) -> Iterator[dict[str, Any]]:
    """A new user with ``quota`` and its login session: ``{"user": ..., "session": ...}``."""
    user = admin.user(quota=quota)
    session = admin.gateway.login(user["username"], "password123")
    try:
        yield {"user": user, "session": session}
    finally:
        session.close()


def new_token(admin: Admin, owner: dict[str, Any], remain_quota: int = 5_000_000) -> dict[str, Any]:
    """A fresh limited token of ``owner`` (from ``logged_in_user``), made through its session."""
    name = admin.unique("t")
    api(owner["session"], "POST", "/api/token/", json={"name": name, "remain_quota": remain_quota,
                                                        "unlimited_quota": False, "expired_time": -1})
    return dict(api(owner["session"], "GET", "/api/token/search", params={"keyword": name})[0])


F = TypeVar("F")
Prices = dict[str, float | tuple[float, float]]  # model -> ratio, or (ratio, completion ratio)


@dataclass
class GatewayWorld:
    """A gateway subprocess, its root as an ``Admin``, a user with quota logged in once
    (``owner``, or None) and the fake upstreams started with it: made by ``start_world``,
    stopped when its ``ExitStack`` closes."""

    gateway: GatewayProcess
    admin: Admin
    owner: dict[str, Any] | None
    stack: contextlib.ExitStack = field(repr=False)

    def fake(self, kind: Callable[..., F], **knobs: Any) -> F:
        """Start a fake upstream (``tests.fakes``) that lives as long as this world."""
        return self.stack.enter_context(kind(**knobs))  # type: ignore[arg-type]

    def token(self, remain_quota: int = 5_000_000) -> dict[str, Any]:
        """A fresh token of ``owner``: its consume logs are the test's own."""
        assert self.owner is not None, "this world was started without an owner"
        return new_token(self.admin, self.owner, remain_quota)


def start_world(stack: contextlib.ExitStack, name: str, prices: Prices | None = None,
                owner: bool = True, **env: str) -> GatewayWorld:
    """Start a gateway (``gateway_env`` plus ``env``), log its root in, set the model and
    completion ratios of ``prices`` and (``owner``) log a user with quota in; ``stack``
    stops it all. The one way the plugins' tests start theirs (plugins/conftest.py)."""
    gw = GatewayProcess(gateway_env(**env), name=name).start()
    stack.callback(gw.stop)
    root = gw.login()
    stack.callback(root.close)
    admin = Admin(gw, root)
    ratios = {m: p[0] if isinstance(p, tuple) else p for m, p in (prices or {}).items()}
    completion = {m: p[1] for m, p in (prices or {}).items() if isinstance(p, tuple)}
    if ratios:
        admin.option("ModelRatio", json.dumps(ratios))
    if completion:
        admin.option("CompletionRatio", json.dumps(completion))
    user = stack.enter_context(logged_in_user(admin)) if owner else None
    return GatewayWorld(gw, admin, user, stack)


def wait_logs(admin: Admin, token_name: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The consume logs of a token, once there are ``count`` of them (all there are at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        logs = admin.logs(token_name=token_name, type=2)
        if len(logs) >= count or time.monotonic() > deadline:
            return logs
        time.sleep(0.02)


@pytest.fixture(scope="session")
def admin(gateway: GatewayProcess, root: httpx.Client) -> Admin:
    return Admin(gateway, root)
