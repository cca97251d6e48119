"""Third-party sign-in in the web console, in Debian's chromium against a real gateway whose
identity providers are fakes on 127.0.0.1 (tests/fakes/identity_providers.py).

A new user signs in with OIDC (the browser goes to the fake provider and comes back), is
refused unbinding its only way in, binds WeChat with the code from the official account (QR
code dialog), unbinds OIDC; signs in again with WeChat from the login page; binds Lark (the
browser's trip to Feishu is answered inside the browser, nothing leaves the machine). The
settings page shows the new options.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.conftest import gateway_env
from tests.fakes.identity_providers import FakeIdentityProviders
from tests.gateway import GatewayProcess

pytestmark = pytest.mark.timeout(300)  # includes building the UI when it is missing


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdentityProviders]:
    with FakeIdentityProviders() as fake:
        yield fake


@pytest.fixture(scope="module")
def gw(built_ui: Path, idp: FakeIdentityProviders) -> Iterator[GatewayProcess]:
    proc = GatewayProcess(gateway_env(LARK_OAUTH_URL=idp.base_url), name="ui-oauth").start()
    yield proc
    proc.stop()


@pytest.fixture()
def context(browser: Browser, gw: GatewayProcess) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        base_url=gw.base_url, viewport={"width": 1366, "height": 900}, locale="en-US"
    )
    yield ctx
    ctx.close()


ROOT_PASSWORD = "ui-oauth-Root1"


def _root(gw: GatewayProcess) -> httpx.Client:
    """Root, signed in with the default password or the one the settings test sets."""
    for password in ("123456", ROOT_PASSWORD):
        client = gw.client()
        if client.post("/api/user/login", json={"username": "root", "password": password}).json()[
            "success"
        ]:
            return client
    raise AssertionError("root cannot sign in")


def _configure(gw: GatewayProcess, idp: FakeIdentityProviders) -> None:
    root = _root(gw)
    for key, value in (
        ("OidcClientId", idp.oidc_client_id),
        ("OidcClientSecret", idp.oidc_client_secret),
        ("OidcWellKnown", idp.base_url + "/.well-known/openid-configuration"),
        ("OidcEnabled", "true"),
        ("WeChatServerAddress", idp.base_url),
        ("WeChatServerToken", idp.wechat_token),
        ("WeChatAccountQRCodeImageURL", idp.base_url + "/wechat/qrcode.png"),
        ("WeChatAuthEnabled", "true"),
        ("LarkClientId", idp.lark_client_id),
        ("LarkClientSecret", idp.lark_client_secret),
    ):
        body = root.put("/api/option/", json={"key": key, "value": value}).json()
        assert body["success"], (key, body)


def _signed_out(page: Page) -> None:
    page.context.clear_cookies()
    page.evaluate("localStorage.clear()")
    page.goto("/login")


def test_sign_in_bind_unbind_in_the_browser(
    context: BrowserContext, gw: GatewayProcess, idp: FakeIdentityProviders
) -> None:
    expect.set_options(timeout=15_000)
    _configure(gw, idp)
    idp.oidc_users = {
        "ui-oidc": {"sub": "sub-ui", "preferred_username": "uioidc", "name": "UI Person"}
    }
    idp.authorize_code = "ui-oidc"
    idp.wechat_users = {"424242": "openid-ui"}
    idp.lark_users = {"ui-lark": {"open_id": "ou_ui", "name": "UI Lark"}}
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    tid = page.get_by_test_id

    # --- the login page offers what /api/status turns on; OIDC goes to the provider and back
    page.goto("/login")
    for provider in ("wechat", "lark", "oidc"):
        expect(tid(f"login-{provider}")).to_be_visible()
    expect(tid("login-github")).to_have_count(0)
    tid("login-oidc").click()
    expect(page).to_have_url(gw.base_url + "/dashboard")
    me = page.request.get("/api/user/self").json()["data"]
    assert (me["username"], me["oidc_id"], me["display_name"]) == ("uioidc", "sub-ui", "UI Person")

    # --- profile: OIDC is the only way in, so it cannot be unbound yet; bind WeChat
    page.goto("/profile")
    expect(tid("binding-oidc")).to_contain_text("sub-ui")
    tid("profile-unbind-oidc").click()
    tid("confirm-ok").click()
    expect(page.get_by_text("only way to sign in")).to_be_visible()
    tid("profile-bind-wechat").click()
    expect(tid("wechat-qrcode")).to_be_visible()
    tid("wechat-code").fill("000000")
    tid("wechat-submit").click()
    expect(page.get_by_text("验证码错误或已过期")).to_be_visible()
    tid("wechat-code").fill("424242")
    tid("wechat-submit").click()
    expect(tid("binding-wechat")).to_contain_text("openid-ui")
    tid("profile-unbind-oidc").click()
    tid("confirm-ok").click()
    expect(tid("binding-oidc")).to_contain_text("Not bound")

    # --- Lark: the trip to Feishu is answered in the browser (no traffic leaves the machine)
    seen: list[str] = []

    def feishu(route: Route) -> None:
        seen.append(route.request.url)
        query = parse_qs(urlsplit(route.request.url).query)
        assert query["client_id"] == [idp.lark_client_id]
        back = f"{query['redirect_uri'][0]}?code=ui-lark&state={query['state'][0]}"
        route.fulfill(status=302, headers={"Location": back})

    page.route(re.compile(r"^https://passport\.feishu\.cn/"), feishu)
    tid("profile-bind-lark").click()
    expect(page).to_have_url(gw.base_url + "/profile")
    expect(tid("binding-lark")).to_contain_text("ou_ui")
    assert seen and seen[0].startswith("https://passport.feishu.cn/suite/passport/oauth/authorize?")

    # --- signed out: WeChat from the login page finds the same user
    _signed_out(page)
    tid("login-wechat").click()
    tid("wechat-code").fill("424242")
    tid("wechat-submit").click()
    expect(page).to_have_url(gw.base_url + "/dashboard")
    assert page.request.get("/api/user/self").json()["data"]["id"] == me["id"]
    assert not errors, errors


def test_settings_show_the_sign_in_options(context: BrowserContext, gw: GatewayProcess) -> None:
    root = _root(gw)
    if root.get("/api/user/self").json()["data"].get("root_password_unchanged"):
        body = {"password": ROOT_PASSWORD, "original_password": "123456"}
        assert root.put("/api/user/self", json=body).json()["success"]
    page = context.new_page()
    page.goto("/login")
    page.get_by_test_id("login-username").fill("root")
    page.get_by_test_id("login-password").fill(ROOT_PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(gw.base_url + "/dashboard")
    page.goto("/setting")
    for group in ("wechat", "lark", "oidc"):
        expect(page.get_by_test_id(f"settings-save-{group}")).to_be_visible()
    expect(page.get_by_text("OIDC discovery URL")).to_be_visible()
