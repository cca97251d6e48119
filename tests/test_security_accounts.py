"""Accounts and sessions against an attacker (issue 18): password changes need the current
password, logout and password changes end every session and access token, the cookie holds
nothing of the password hash, failed logins of one account back off whichever address and
worker they come from, and the cookie is Secure over HTTPS."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.conftest import gateway_env
from tests.gateway import GatewayProcess, api
from tests.services import require_service

pytestmark = pytest.mark.timeout(120)
PASSWORD = "password123"


@pytest.fixture(scope="module")
def gw() -> Iterator[GatewayProcess]:
    proc = GatewayProcess(gateway_env(), name="accounts").start()
    yield proc
    proc.stop()


def _user(gw: GatewayProcess, name: str, password: str = PASSWORD) -> dict:
    root = gw.login()
    api(root, "POST", "/api/user/", json={"username": name, "password": password})
    found = api(root, "GET", "/api/user/search", params={"keyword": name})
    return dict(found[0])


def _refused(client: httpx.Client, method: str, path: str, **kw: object) -> str:
    r = client.request(method, path, **kw)  # type: ignore[arg-type]
    body = r.json()
    assert not body["success"], body
    return str(body["message"])


def test_password_change_needs_the_current_password(gw: GatewayProcess) -> None:
    _user(gw, "pwchange")
    client = gw.login("pwchange", PASSWORD)
    message = _refused(client, "PUT", "/api/user/self", json={"password": "newpassword1"})
    assert "current password" in message
    assert "current password" in _refused(client, "PUT", "/api/user/self", json={
        "password": "newpassword1", "original_password": "wrong-password"})
    api(client, "PUT", "/api/user/self", json={"password": "newpassword1", "original_password": PASSWORD})
    assert gw.login("pwchange", "newpassword1")
    # One API's profile form sends an empty password when it is not being changed
    api(client, "PUT", "/api/user/self", json={"username": "pwchange", "display_name": "P", "password": ""})
    assert gw.login("pwchange", "newpassword1")


def test_logout_ends_copied_cookies_and_password_change_ends_sessions_and_tokens(gw: GatewayProcess) -> None:
    _user(gw, "sessions")
    first = gw.login("sessions", PASSWORD)
    copied = gw.client()
    copied.cookies.update(first.cookies)
    assert api(copied, "GET", "/api/user/self")["username"] == "sessions"
    api(first, "GET", "/api/user/logout")
    r = copied.get("/api/user/self")
    assert r.status_code == 401 and not r.json()["success"]  # the copy died with the logout

    phone, laptop = gw.login("sessions", PASSWORD), gw.login("sessions", PASSWORD)
    token = api(laptop, "GET", "/api/user/token")
    script = gw.client(headers={"Authorization": token})
    assert api(script, "GET", "/api/user/self")["username"] == "sessions"
    api(laptop, "PUT", "/api/user/self", json={"password": "changed-pass1", "original_password": PASSWORD})
    assert api(laptop, "GET", "/api/user/self")["username"] == "sessions"  # the changer stays in
    assert phone.get("/api/user/self").status_code == 401
    assert "access token is invalid" in _refused(script, "GET", "/api/user/self")


def test_the_cookie_carries_nothing_of_the_password_hash(gw: GatewayProcess) -> None:
    _user(gw, "cookieuser")
    client = gw.login("cookieuser", PASSWORD)
    raw = client.cookies["session"].split(".")[0]
    compressed = raw.startswith(".")
    payload = base64.urlsafe_b64decode(raw.lstrip(".") + "=" * (-len(raw.lstrip(".")) % 4))
    data = json.loads(zlib.decompress(payload) if compressed else payload)
    assert set(data) <= {"id", "epoch", "login_at", "_permanent"}, data
    root = gw.login()
    stored = api(root, "GET", "/api/user/search", params={"keyword": "cookieuser"})[0]
    assert "password" not in stored and data["epoch"] == ""  # no epoch until the first logout


def _from(gw: GatewayProcess, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=gw.base_url, transport=transport, timeout=30)


def _guess(client: httpx.Client, username: str, password: str) -> str:
    body = client.post("/api/user/login", json={"username": username, "password": password}).json()
    return "ok" if body["success"] else str(body["message"])


def test_failed_logins_of_one_account_back_off_whatever_the_address(gw: GatewayProcess) -> None:
    _user(gw, "victim")
    clients = [_from(gw, f"127.0.0.{n}") for n in (1, 2, 3)]
    answers = [_guess(clients[i % 3], "victim", f"guess-{i:04d}") for i in range(12)]
    assert answers[:5] == ["wrong username or password"] * 5
    assert all("too many failed logins" in a for a in answers[5:]), answers
    # Even the right password waits out the backoff; other accounts are not affected.
    assert "too many failed logins" in _guess(clients[0], "victim", PASSWORD)
    _user(gw, "bystander")
    assert _guess(clients[1], "bystander", PASSWORD) == "ok"


def _two_workers(tmp_path, name: str, **env: str) -> list[GatewayProcess]:  # type: ignore[no-untyped-def]
    shared = gateway_env(SQLITE_PATH=str(tmp_path / "shared.db"), SESSION_SECRET="shared-secret", **env)
    first = GatewayProcess(shared, name=name + "-a").start()
    return [first, GatewayProcess(shared, name=name + "-b").start()]


@pytest.mark.parametrize("store", ["database", "redis"])
def test_backoff_is_shared_by_workers(tmp_path, store: str) -> None:  # type: ignore[no-untyped-def]
    env = {}
    if store == "redis":
        require_service("Redis")
        redis.Redis(host="127.0.0.1", port=6379, db=7).flushdb()
        env = {"REDIS_CONN_STRING": "redis://127.0.0.1:6379/7"}
    nodes = _two_workers(tmp_path, "backoff-" + store, **env)
    try:
        _user(nodes[0], "target")
        answers = [_guess(nodes[i % 2].client(), "target", f"nope-{i:04d}") for i in range(8)]
        assert answers[:5] == ["wrong username or password"] * 5
        assert all("too many failed logins" in a for a in answers[5:]), answers
    finally:
        for node in nodes:
            node.stop()


def test_session_cookie_is_secure_when_configured(tmp_path) -> None:  # type: ignore[no-untyped-def]
    plain = GatewayProcess(gateway_env(), name="cookie-auto").start()
    secure = GatewayProcess(gateway_env(SESSION_COOKIE_SECURE="true"), name="cookie-secure").start()
    try:
        auto_cookie = plain.client().post("/api/user/login", json={"username": "root", "password": "123456"})
        assert "secure" not in auto_cookie.headers["set-cookie"].lower()  # plain HTTP: auto leaves it off
        r = secure.client().post("/api/user/login", json={"username": "root", "password": "123456"})
        assert "; secure" in r.headers["set-cookie"].lower()
    finally:
        plain.stop()
        secure.stop()
