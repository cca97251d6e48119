"""OIDC, Lark and WeChat sign-in, binding and unbinding, end to end over HTTP: a gateway
process whose providers are fakes on 127.0.0.1 (tests/fakes/identity_providers.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.identity_providers import FakeIdentityProviders
from tests.gateway import GatewayProcess

PASSWORD = "password123"


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[GatewayProcess, FakeIdentityProviders]]:
    with FakeIdentityProviders() as fake:
        proc = GatewayProcess({"LARK_OAUTH_URL": fake.base_url}, name="oauth-idp").start()
        try:
            yield proc, fake
        finally:
            proc.stop()


@pytest.fixture()
def fake(setup: tuple[GatewayProcess, FakeIdentityProviders]) -> Iterator[FakeIdentityProviders]:
    yield setup[1]
    setup[1].fail_status = None


def _set(root: httpx.Client, key: str, value: str) -> dict[str, Any]:
    body: dict[str, Any] = root.put("/api/option/", json={"key": key, "value": value}).json()
    return body


def _option(root: httpx.Client, key: str, value: str) -> None:
    body = _set(root, key, value)
    assert body["success"], body


def _refused(r: httpx.Response, words: str) -> None:
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body["success"] and words in body["message"], body


_n = iter(range(1, 10_000))


def _user(proc: GatewayProcess, root: httpx.Client) -> tuple[dict[str, Any], httpx.Client]:
    """A new password user, signed in (session cookie)."""
    name = f"idp{next(_n)}"
    assert root.post("/api/user/", json={"username": name, "password": PASSWORD}).json()["success"]
    client = proc.login(name, PASSWORD)
    return client.get("/api/user/self").json()["data"], client


def _state(client: httpx.Client) -> str:
    state: str = client.get("/api/oauth/state").json()["data"]
    return state


def _oauth(client: httpx.Client, provider: str, code: str) -> dict[str, Any]:
    r = client.get(f"/api/oauth/{provider}", params={"code": code, "state": _state(client)})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_and_options_have_one_api_keys(
    setup: tuple[GatewayProcess, FakeIdentityProviders],
) -> None:
    proc, _ = setup
    status = proc.client().get("/api/status").json()["data"]
    for key in (
        "wechat_login", "wechat_qrcode", "lark_client_id", "oidc", "oidc_client_id", "oidc_well_known",
        "oidc_authorization_endpoint", "oidc_token_endpoint", "oidc_userinfo_endpoint",
        "enable_online_topup", "oidc_enabled", "github_oauth", "turnstile_check", "email_verification",
    ):  # fmt: skip
        assert key in status, key
    root = proc.login()
    _option(root, "WeChatAccountQRCodeImageURL", "https://example.com/qr.png")
    assert (
        proc.client().get("/api/status").json()["data"]["wechat_qrcode"]
        == "https://example.com/qr.png"
    )
    _refused(root.put("/api/option/", json={"key": "OidcWellKnown", "value": "ftp://x"}), "http")
    listed = {o["key"]: o["value"] for o in root.get("/api/option/").json()["data"]}
    for key in (
        "WeChatServerAddress",
        "WeChatAuthEnabled",
        "LarkClientId",
        "OidcEnabled",
        "OidcUserinfoEndpoint",
    ):
        assert key in listed, key
    assert "WeChatServerToken" not in listed or listed["WeChatServerToken"] == ""


def test_oidc_login_bind_unbind(
    setup: tuple[GatewayProcess, FakeIdentityProviders], fake: FakeIdentityProviders
) -> None:
    proc, _ = setup
    root = proc.login()
    fake.oidc_users = {
        "code-alice": {
            "sub": "sub-alice",
            "preferred_username": "alice",
            "name": "Alice A",
            "email": "alice@corp.test",
        },
        "code-alice2": {
            "sub": "sub-alice2",
            "preferred_username": "alice",
            "email": "a2@corp.test",
        },
        "code-bob": {"sub": "sub-bob", "email": "bob@corp.test"},
    }
    _option(root, "OidcClientId", fake.oidc_client_id)
    _option(root, "OidcClientSecret", fake.oidc_client_secret)
    _refused(
        root.put("/api/option/", json={"key": "OidcEnabled", "value": "true"}), "OidcWellKnown"
    )
    saved = _set(root, "OidcWellKnown", fake.base_url + "/.well-known/openid-configuration")
    assert saved["success"] and "discovered" in saved["message"], saved
    status = proc.client().get("/api/status").json()["data"]
    assert status["oidc_authorization_endpoint"] == fake.base_url + "/oidc/authorize"
    assert status["oidc_token_endpoint"] == fake.base_url + "/oidc/token"
    browser = proc.client()
    _refused(
        browser.get("/api/oauth/oidc", params={"code": "code-alice", "state": _state(browser)}),
        "disabled",
    )
    _option(root, "OidcEnabled", "true")
    assert proc.client().get("/api/status").json()["data"]["oidc"] is True

    # wrong state, unknown code
    _state(browser)
    _refused(
        browser.get("/api/oauth/oidc", params={"code": "code-alice", "state": "nope"}),
        "state does not match",
    )
    bad = _oauth(browser, "oidc", "code-unknown")
    assert not bad["success"] and "invalid_grant" in bad["message"], bad

    # first login registers (username from preferred_username), the second finds the same user
    first = _oauth(browser, "oidc", "code-alice")
    assert first["success"] and first["data"]["username"] == "alice", first
    me = browser.get("/api/user/self").json()["data"]
    assert (me["oidc_id"], me["display_name"], me["email"]) == (
        "sub-alice",
        "Alice A",
        "alice@corp.test",
    )
    token_call = next(r for r in fake.requests if r.path == "/oidc/token")
    assert (
        token_call.body
        and b"redirect_uri=" in token_call.body
        and b"%2Foauth%2Foidc" in token_call.body
    )
    again = proc.client()
    assert _oauth(again, "oidc", "code-alice")["data"]["id"] == me["id"]
    # same preferred_username, other subject: a unique name; no username or email: oidc_N
    other = _oauth(proc.client(), "oidc", "code-alice2")
    assert other["success"] and other["data"]["username"].startswith("oidc_"), other
    bob = _oauth(proc.client(), "oidc", "code-bob")
    assert bob["success"] and bob["data"]["username"] == "bob", bob

    # a signed-in password user binds an OIDC account; a second user cannot bind it too
    fake.oidc_users["code-carol"] = {"sub": "sub-carol", "preferred_username": "carol"}
    carol, carol_client = _user(proc, root)
    bound = _oauth(carol_client, "oidc", "code-carol")
    assert bound == {"success": True, "message": "bind", "data": None} or (
        bound["success"] and bound["message"] == "bind"
    )
    assert carol_client.get("/api/user/self").json()["data"]["oidc_id"] == "sub-carol"
    _, dave_client = _user(proc, root)
    taken = _oauth(dave_client, "oidc", "code-carol")
    assert not taken["success"] and "already bound" in taken["message"], taken
    taken = _oauth(dave_client, "oidc", "code-alice")
    assert not taken["success"] and "already bound" in taken["message"], taken
    # signing in with carol's OIDC account finds carol
    assert _oauth(proc.client(), "oidc", "code-carol")["data"]["id"] == carol["id"]

    # unbind; then the account is free for dave
    r = carol_client.delete("/api/user/self/bindings/oidc").json()
    assert r["success"], r
    assert carol_client.get("/api/user/self").json()["data"]["oidc_id"] == ""
    _refused(carol_client.delete("/api/user/self/bindings/oidc"), "no OIDC account is bound")
    _refused(carol_client.delete("/api/user/self/bindings/myspace"), "unknown binding type")
    assert _oauth(dave_client, "oidc", "code-carol")["message"] == "bind"
    # an OIDC-only user may not unbind its only way in
    _refused(browser.delete("/api/user/self/bindings/oidc"), "only way to sign in")

    # endpoints cleared: discovered again at login
    _option(root, "OidcTokenEndpoint", "")
    assert _oauth(proc.client(), "oidc", "code-alice")["data"]["id"] == me["id"]
    assert _set(root, "OidcTokenEndpoint", "")["success"]

    # registration closed: a new subject is refused, known ones still sign in
    fake.oidc_users["code-erin"] = {"sub": "sub-erin"}
    _option(root, "RegisterEnabled", "false")
    try:
        closed = _oauth(proc.client(), "oidc", "code-erin")
        assert not closed["success"] and "registration" in closed["message"], closed
        assert _oauth(proc.client(), "oidc", "code-bob")["success"]
    finally:
        _option(root, "RegisterEnabled", "true")

    # provider trouble is named
    fake.fail(503)
    down = _oauth(proc.client(), "oidc", "code-alice")
    assert (
        not down["success"] and "OIDC provider" in down["message"] and "503" in down["message"]
    ), down
    fake.fail_status = None
    _option(root, "OidcTokenEndpoint", f"http://127.0.0.1:{_closed_port()}/token")
    gone = _oauth(proc.client(), "oidc", "code-alice")
    assert not gone["success"] and "could not reach the OIDC provider" in gone["message"], gone
    _option(root, "OidcTokenEndpoint", fake.base_url + "/oidc/token")

    _option(root, "OidcEnabled", "false")
    _refused(proc.client().get("/api/oauth/oidc", params={"code": "code-alice", "state": "x"}), "")


def test_lark_login_bind_unbind(
    setup: tuple[GatewayProcess, FakeIdentityProviders], fake: FakeIdentityProviders
) -> None:
    proc, _ = setup
    root = proc.login()
    fake.lark_users = {
        "lark-1": {"open_id": "ou_one", "union_id": "on_one", "name": "Lark One", "sub": "ou_one"},
        "lark-2": {"open_id": "ou_two", "union_id": "on_two", "name": ""},
    }
    browser = proc.client()
    not_set = _oauth(browser, "lark", "lark-1")
    assert not not_set["success"] and "LarkClientId" in not_set["message"], not_set
    _option(root, "LarkClientId", fake.lark_client_id)
    _option(root, "LarkClientSecret", fake.lark_client_secret)
    assert proc.client().get("/api/status").json()["data"]["lark_client_id"] == fake.lark_client_id

    _state(browser)
    _refused(
        browser.get("/api/oauth/lark", params={"code": "lark-1", "state": "bad"}),
        "state does not match",
    )
    bad = _oauth(browser, "lark", "lark-0")
    assert not bad["success"] and "Lark refused the login code" in bad["message"], bad
    first = _oauth(browser, "lark", "lark-1")
    assert first["success"] and first["data"]["username"].startswith("lark_"), first
    me = browser.get("/api/user/self").json()["data"]
    assert (me["lark_id"], me["display_name"]) == ("ou_one", "Lark One")
    assert _oauth(proc.client(), "lark", "lark-1")["data"]["id"] == me["id"]
    call = [r for r in fake.requests if r.path == "/suite/passport/oauth/token"][-1]
    assert call.json["code"] == "lark-1" and call.json["redirect_uri"].endswith("/oauth/lark")

    user, client = _user(proc, root)
    assert _oauth(client, "lark", "lark-2")["message"] == "bind"
    assert client.get("/api/user/self").json()["data"]["lark_id"] == "ou_two"
    _, other = _user(proc, root)
    taken = _oauth(other, "lark", "lark-2")
    assert not taken["success"] and "already bound" in taken["message"], taken
    assert client.delete("/api/user/self/bindings/lark").json()["success"]
    assert client.get("/api/user/self").json()["data"]["lark_id"] == ""
    assert _oauth(other, "lark", "lark-2")["message"] == "bind"

    fake.fail(500, {"code": 20024, "msg": "internal error"})
    down = _oauth(proc.client(), "lark", "lark-1")
    assert not down["success"] and "internal error" in down["message"], down
    fake.fail_status = None
    _option(root, "LarkClientId", "")
    off = _oauth(proc.client(), "lark", "lark-1")
    assert not off["success"] and "not set up" in off["message"], off


def test_wechat_login_bind_unbind(
    setup: tuple[GatewayProcess, FakeIdentityProviders], fake: FakeIdentityProviders
) -> None:
    proc, _ = setup
    root = proc.login()
    fake.wechat_users = {"111111": "openid-one", "222222": "openid-two"}
    _refused(
        root.put("/api/option/", json={"key": "WeChatAuthEnabled", "value": "true"}),
        "WeChatServerAddress",
    )
    anon = proc.client()
    _refused(anon.get("/api/oauth/wechat", params={"code": "111111"}), "disabled")
    _option(root, "WeChatServerAddress", fake.base_url + "/")
    _option(root, "WeChatServerToken", "wrong-token")
    _option(root, "WeChatAuthEnabled", "true")
    assert proc.client().get("/api/status").json()["data"]["wechat_login"] is True
    _refused(anon.get("/api/oauth/wechat", params={"code": "111111"}), "token")
    _option(root, "WeChatServerToken", fake.wechat_token)
    _refused(anon.get("/api/oauth/wechat"), "code is required")
    _refused(anon.get("/api/oauth/wechat", params={"code": "999999"}), "验证码错误或已过期")

    first = anon.get("/api/oauth/wechat", params={"code": "111111"}).json()
    assert first["success"] and first["data"]["username"].startswith("wechat_"), first
    me = anon.get("/api/user/self").json()["data"]
    assert (me["wechat_id"], me["display_name"]) == ("openid-one", "WeChat User")
    assert (
        proc.client().get("/api/oauth/wechat", params={"code": "111111"}).json()["data"]["id"]
        == me["id"]
    )
    assert fake.requests[-1].headers["authorization"] == fake.wechat_token

    # binding needs a signed-in user
    assert proc.client().get("/api/oauth/wechat/bind", params={"code": "222222"}).status_code == 401
    user, client = _user(proc, root)
    assert client.get("/api/oauth/wechat/bind", params={"code": "222222"}).json()["success"]
    assert client.get("/api/user/self").json()["data"]["wechat_id"] == "openid-two"
    _, other = _user(proc, root)
    _refused(other.get("/api/oauth/wechat/bind", params={"code": "222222"}), "already bound")
    _refused(other.get("/api/oauth/wechat/bind", params={"code": "111111"}), "already bound")

    # admins clear bindings of lower roles (New API's route); root of anyone
    _refused(other.delete(f"/api/user/{user['id']}/bindings/wechat"), "permission denied")
    assert root.delete(f"/api/user/{user['id']}/bindings/wechat").json()["success"]
    assert client.get("/api/user/self").json()["data"]["wechat_id"] == ""
    _refused(root.delete(f"/api/user/{user['id']}/bindings/wechat"), "no WeChat account")
    _refused(root.delete("/api/user/2147480000/bindings/wechat"), "not found")
    assert other.get("/api/oauth/wechat/bind", params={"code": "222222"}).json()["success"]

    fake.fail(502, "<html>bad gateway</html>")
    _refused(
        proc.client().get("/api/oauth/wechat", params={"code": "111111"}),
        "the WeChat server did not answer (HTTP 502)",
    )
    fake.fail_status = None
    _option(root, "WeChatAuthEnabled", "false")
    _refused(proc.client().get("/api/oauth/wechat", params={"code": "111111"}), "disabled")
    _refused(client.get("/api/oauth/wechat/bind", params={"code": "111111"}), "disabled")
