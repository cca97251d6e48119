"""The top-up test bench: a real gateway (SQLite or PostgreSQL) with the EPay plugin, a fake
EPay site on loopback, and helpers that act as admin, user, browser and provider.

A pytest plugin of the test modules of this folder (``pytest_plugins = ["epay_harness"]``)
rather than a conftest.py, so that plugin test folders never clash on the module name
``conftest``; its session-scoped ``shop`` fixture is shared by those modules.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ECHO_SITE, start_world
from tests.dbs import postgres_database
from tests.fakes.epay_upstream import FakeEpay, epay_sign
from tests.gateway import GatewayProcess, api
from tests.services import require_service

__all__ = ["KEY", "PASSWORD", "PID", "Shop", "epay_sign", "shop"]

PASSWORD = "password123"
PID = "1001"
KEY = "k3y-For-Tests_0123456789"
NOTIFY_PATH = "/api/user/epay/notify"


def _core_payment_site() -> str:
    """Until ``oneapi.payment_defaults`` is in DEFAULT_PLUGINS, load it through an entry point
    of a throwaway distribution (so the options Price, MinTopUp, ... exist)."""
    from oneapi.plugins import DEFAULT_PLUGINS

    if "oneapi.payment_defaults" in DEFAULT_PLUGINS:
        return ""
    site = Path(tempfile.mkdtemp(prefix="oneapi-paysite-"))
    info = site / "oneapi_payment_defaults_shim-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: oneapi-payment-defaults-shim\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text("[oneapi]\npayment_defaults = oneapi.payment_defaults\n")
    return str(site)


class Shop:
    """The gateway, the fake EPay site, and what admins, users and browsers do."""

    def __init__(self, proc: GatewayProcess, fake: FakeEpay, dialect: str, marks: Path) -> None:
        self.proc, self.fake, self.dialect, self.marks = proc, fake, dialect, marks
        self.base_url = proc.base_url
        self.pid, self.key = PID, KEY
        self.notify_url = self.base_url + NOTIFY_PATH
        self.root = proc.login()
        self._n = 0
        self._spare: tuple[dict[str, Any], httpx.Client] | None = None
        for key, value in {
            "ServerAddress": self.base_url,
            "PayAddress": fake.base_url,
            "EpayId": PID,
            "EpayKey": KEY,
            "Price": "7.3",
            "MinTopUp": "1",
        }.items():
            self.option(key, value)

    def option(self, key: str, value: str) -> None:
        api(self.root, "PUT", "/api/option/", json={"key": key, "value": value})

    def user(self, aff_code: str = "") -> tuple[dict[str, Any], httpx.Client]:
        """A new user with 0 quota, and a client signed in as them."""
        self._n += 1
        name = f"p{self._n}{uuid.uuid4().hex[:6]}"[:12]
        if aff_code:
            r = httpx.post(
                self.base_url + "/api/user/register",
                json={"username": name, "password": PASSWORD, "aff_code": aff_code},
            )
            assert r.json()["success"], r.text
        else:
            api(self.root, "POST", "/api/user/", json={"username": name, "password": PASSWORD})
        found = api(self.root, "GET", "/api/user/search", params={"keyword": name})
        return dict(found[0]), self.proc.login(name, PASSWORD)

    def spare(self) -> tuple[dict[str, Any], httpx.Client]:
        """One user for tests that must never create an order nor credit anything."""
        if self._spare is None:
            self._spare = self.user()
        return self._spare

    def quota(self, user_id: int) -> int:
        return int(api(self.root, "GET", f"/api/user/{user_id}")["quota"])

    def pay(self, client: httpx.Client, amount: Any = 10, method: str = "alipay") -> dict[str, Any]:
        """POST /api/user/pay: New API's answer (``data`` the form fields, ``url``), plus
        ``form``: what the UI submits ({url, method, fields})."""
        r = client.post("/api/user/pay", json={"amount": amount, "payment_method": method})
        body = r.json()
        assert r.status_code == 200 and body["success"] and body["message"] == "success", body
        form = {"url": body["url"], "method": body.get("method", "POST"), "fields": body["data"]}
        return {**body, "form": form}

    def browser_submit(self, action: dict[str, Any]) -> httpx.Response:
        """What the UI's hidden form does with the answer of /api/user/pay."""
        if action["method"] == "GET":
            return httpx.get(action["url"], params=action["fields"], timeout=30)
        return httpx.post(action["url"], data=action["fields"], timeout=30)

    def order(self, trade_no: str) -> dict[str, Any]:
        rows = api(self.root, "GET", "/api/topup/", params={"keyword": trade_no})
        assert len(rows) == 1, rows
        return dict(rows[0])

    def logs(self, user_id: int, kind: int) -> list[dict[str, Any]]:
        rows = api(self.root, "GET", "/api/log/", params={"type": kind, "page_size": 100})
        return [r for r in rows if r["user_id"] == user_id]

    def paid_order(self, client: httpx.Client, amount: int = 10) -> str:
        """Create an order and submit it to the fake site without its automatic notify."""
        self.fake.auto_notify = False
        try:
            action = self.pay(client, amount)["form"]
            assert self.browser_submit(action).status_code == 200
        finally:
            self.fake.auto_notify = True
        return str(action["fields"]["out_trade_no"])

    def close(self) -> None:
        self.root.close()


def _start(stack: ExitStack, dialect: str) -> Shop:
    env: dict[str, str] = {}
    site = _core_payment_site()
    if site:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (site, ECHO_SITE, os.environ.get("PYTHONPATH", "")) if p)
        stack.callback(shutil.rmtree, site, True)
    marks = Path(tempfile.mkdtemp(prefix="oneapi-marks-")) / "marks.txt"
    stack.callback(shutil.rmtree, marks.parent, True)
    env["ONEAPI_ECHO_MARKS"] = str(marks)
    if dialect == "postgres":
        require_service("PostgreSQL")
        env["SQL_DSN"] = stack.enter_context(postgres_database())
    world = start_world(stack, f"epay-{dialect}", owner=False, **env)
    shop = Shop(world.gateway, world.fake(FakeEpay, pid=PID, key=KEY), dialect, marks)
    stack.callback(shop.close)
    return shop


DIALECTS = [
    d
    for d in os.environ.get("ONEAPI_TEST_DBS", "sqlite,postgres").split(",")
    if d in ("sqlite", "postgres")
]


@pytest.fixture(scope="session", params=DIALECTS)
def shop(request: pytest.FixtureRequest) -> Iterator[Shop]:
    """One gateway + fake EPay per database, shared by every module of this folder."""
    with ExitStack() as stack:
        yield _start(stack, request.param)
