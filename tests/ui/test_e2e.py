"""The web console end to end, in Debian's chromium against a real gateway (issue 10).

One flow, as an operator would do it: root signs in and must change the default password,
prices a model on the settings page, adds a channel to the fake OpenAI upstream, creates
redemption codes and a user; the user signs in, redeems a code, creates a token and copies
its key; a request through the openai SDK with that key shows up on the user's logs page
with its quota. Along the way: page-size selector, language switch, phone layout, and no
console errors. Screenshots of every main page go to test-artifacts/ui/.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(300)  # includes building the UI when it is missing

MODEL = "e2e-model"
ROOT_PASSWORD = "123456"
NEW_ROOT_PASSWORD = "e2e-Root-pass1"
USERNAME = "e2euser"
USER_PASSWORD = "e2e-user-pw1"
CHANNEL = "e2e-openai"
TOKEN = "e2e-token"
CODES = 12
CODE_QUOTA = 500_000  # $1.00 at the default QuotaPerUnit
# ModelRatio 2, completion ratio 1: ceil(2 * (10 + 5 * 1)) = 30 quota = $0.00006
EXPECTED_QUOTA = 30
EXPECTED_COST = "$0.00006"

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


class ConsoleErrors:
    """Console errors and uncaught exceptions of a page, with the URL they happened on."""

    IGNORED = (re.compile(r"favicon\.ico"),)

    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Page) -> None:
        page.on("console", lambda m: self._console(page, m))
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: uncaught {e}"))

    def _console(self, page: Page, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        text = f"{msg.text} ({msg.location.get('url', '')})"
        if not any(p.search(text) for p in self.IGNORED):
            self.errors.append(f"{page.url}: {text}")


class Ui:
    """Small helpers over one page: navigation by menu, antd selects, screenshots."""

    def __init__(self, page: Page, base_url: str, artifacts: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.artifacts = artifacts

    def tid(self, test_id: str) -> Locator:
        return self.page.get_by_test_id(test_id)

    def rows(self, prefix: str, text: str | None = None) -> Locator:
        rows = self.page.locator(f'[data-testid^="{prefix}-row-"]')
        return rows.filter(has_text=text) if text else rows

    def row_id(self, row: Locator, prefix: str) -> str:
        expect(row).to_have_count(1)
        test_id = row.get_attribute("data-testid") or ""
        return test_id.removeprefix(f"{prefix}-row-")

    def menu(self, key: str, path: str, ready: str) -> None:
        """Go to a page by its side-menu item and wait until it shows ``ready`` (a test id).

        The router changes pages in a transition: the URL changes at once but the old page
        stays on screen until the new one has loaded, so the URL alone is not enough.
        """
        self.tid(f"menu-{key}").click()
        expect(self.page).to_have_url(re.compile(re.escape(self.base_url + path) + r"(\?.*)?$"))
        expect(self.page.locator(".ant-menu-item-selected").get_by_test_id(f"menu-{key}")).to_be_visible()
        expect(self.tid(ready).first).to_be_visible()

    def idle(self) -> None:
        """No spinner of a loading list or page is left."""
        expect(self.page.locator(".ant-spin-spinning")).to_have_count(0)
        expect(self.tid("loading")).to_have_count(0)

    def shot(self, name: str, full_page: bool = True) -> None:
        """A screenshot of the page as it stands, without the passing toasts."""
        self.idle()
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(
            path=str(self.artifacts / name), full_page=full_page, animations="disabled",
            style=".ant-message, .ant-notification { display: none !important; }",
        )

    def toast(self, text: str | re.Pattern[str]) -> None:
        expect(self.page.locator(".ant-message-notice").filter(has_text=text).first).to_be_visible()

    def pick(self, opener: Locator, option: Locator, check: Callable[[float], None]) -> None:
        """Open a dropdown (select, menu) and click one of its options, then ``check(timeout)``.

        antd renders a popup off-screen first and moves it into place a frame later; a
        click racing that move can miss (no person is that fast), so a miss is retried.
        """
        for attempt in range(3):
            try:
                if not option.is_visible():
                    opener.click()
                option.click(timeout=5_000)
                check(5_000)
                return
            except (PlaywrightTimeoutError, AssertionError) as e:
                if attempt == 2:
                    raise
                warnings.warn(f"the click on {option} missed (the popup moved under it), retried: {str(e)[:160]}", stacklevel=2)

    def page_size(self, size: int) -> None:
        select = self.tid("page-size-select")
        self.pick(select, self.tid(f"page-size-option-{size}"),
                  lambda t: expect(select).to_contain_text(f"{size} / page", timeout=t))

    def language(self, code: str, token_menu_label: str) -> None:
        self.pick(self.tid("lang-switch"), self.tid(f"lang-option-{code}"),
                  lambda t: expect(self.tid("menu-token")).to_have_text(token_menu_label, timeout=t))
        expect(self.page.locator("html")).to_have_attribute("lang", code)

    def logout(self) -> None:
        self.pick(self.tid("account-menu"), self.tid("logout"),
                  lambda t: expect(self.tid("login-form")).to_be_visible(timeout=t))
        # plain /login: a ?redirect= to the last (maybe admin-only) page would send the next
        # person who signs in there
        expect(self.page).to_have_url(self.base_url + "/login")

    def login(self, username: str, password: str) -> None:
        self.tid("login-username").fill(username)
        self.tid("login-password").fill(password)
        self.tid("login-submit").click()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    """Poll ``check`` until it returns something truthy (the backend writes some rows in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def password_works(gw: GatewayProcess, username: str, password: str) -> bool:
    with gw.client() as c:
        body = c.post("/api/user/login", json={"username": username, "password": password}).json()
    return bool(body.get("success"))


@pytest.fixture
def context(browser: Browser, ui_gateway: GatewayProcess) -> Iterator[BrowserContext]:
    ctx = browser.new_context(
        base_url=ui_gateway.base_url, viewport=DESKTOP, locale="en-US", timezone_id="UTC",
        reduced_motion="reduce",  # charts drawn at once, not half-way through an animation
    )
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=ui_gateway.base_url)
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def test_console_end_to_end(
    context: BrowserContext, ui_gateway: GatewayProcess, upstream: FakeOpenAI, artifacts: Path,
) -> None:
    expect.set_options(timeout=15_000)
    gw = ui_gateway
    page = context.new_page()
    console = ConsoleErrors()
    console.attach(page)
    ui = Ui(page, gw.base_url, artifacts)
    try:
        _run(ui, gw, upstream)
    except BaseException:
        page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
        (artifacts / "failure.txt").write_text(
            f"url: {page.url}\n\nconsole errors:\n" + "\n".join(console.errors)
            + f"\n\ngateway log (tail):\n{gw.log()}\n"
        )
        raise
    assert not console.errors, "console errors:\n" + "\n".join(console.errors)


def _run(ui: Ui, gw: GatewayProcess, upstream: FakeOpenAI) -> None:
    page, tid = ui.page, ui.tid

    # --- root signs in with the default password and is made to change it -------------------
    page.goto("/token")  # signed out: a guarded page sends to the login, to come back after
    expect(page).to_have_url(f"{gw.base_url}/login?redirect=%2Ftoken")
    expect(tid("login-form")).to_be_visible()
    ui.shot("login.png")
    ui.login("root", ROOT_PASSWORD)
    expect(page).to_have_url(f"{gw.base_url}/change-password")
    expect(tid("password-forced")).to_be_visible()
    ui.shot("change-password.png")
    # every other page sends root back here while the password is the default one
    page.goto("/token")
    expect(page).to_have_url(f"{gw.base_url}/change-password")
    tid("password-original").fill(ROOT_PASSWORD)
    tid("password-new").fill(NEW_ROOT_PASSWORD)
    tid("password-confirm").fill(NEW_ROOT_PASSWORD)
    tid("password-submit").click()
    expect(page).to_have_url(f"{gw.base_url}/dashboard")
    expect(tid("dashboard")).to_be_visible()
    expect(tid("password-forced")).to_have_count(0)
    assert password_works(gw, "root", NEW_ROOT_PASSWORD)
    assert not password_works(gw, "root", ROOT_PASSWORD)
    root = gw.login("root", NEW_ROOT_PASSWORD)  # to check what the UI did, through the API
    assert api(root, "GET", "/api/status")["root_password_unchanged"] is False
    # root's side menu has the admin and root pages
    for key in ("channel", "user", "redemption", "setting"):
        expect(tid(f"menu-{key}")).to_be_visible()

    # --- settings: price the model in the ModelRatio JSON editor ------------------------------
    ui.menu("setting", "/setting", "settings-tab-ratio")
    tid("settings-tab-ratio").click()
    ratio = tid("option-ModelRatio")
    ratio.fill('{"e2e-model": ')  # invalid JSON is refused before anything is sent
    tid("settings-save-ratios").click()
    expect(tid("settings-group-ratios").locator(".ant-form-item-explain-error")).to_be_visible()
    ratio.fill('{"e2e-model": 2}')
    expect(tid("settings-group-ratios").locator(".ant-form-item-explain-error")).to_have_count(0)
    tid("settings-save-ratios").click()
    ui.toast("1 settings saved")
    options = {o["key"]: o["value"] for o in api(root, "GET", "/api/option/")}
    assert '"e2e-model"' in options["ModelRatio"] and '2' in options["ModelRatio"], options["ModelRatio"]
    ui.shot("settings.png")

    # --- channels: an OpenAI channel to the fake upstream serving e2e-model -------------------
    ui.menu("channel", "/channel", "channel-create")
    tid("channel-create").click()
    expect(tid("channel-form")).to_be_visible()
    channel_type = tid("channel-form-type")
    ui.pick(channel_type, page.locator('.ant-select-item-option[title="OpenAI (1)"]'),
            lambda t: expect(channel_type).to_contain_text("OpenAI (1)", timeout=t))
    expect(tid("channel-config-organization")).to_be_visible()  # the OpenAI plugin's own field
    tid("channel-form-name").fill(CHANNEL)
    tid("channel-form-base-url").fill(upstream.base_url)
    tid("channel-form-key").fill("sk-upstream")
    tid("channel-form-clear-models").click()
    models = tid("channel-form-models")
    models.click()
    models.locator("input").fill(MODEL)
    models.locator("input").press("Enter")
    models.locator("input").press("Escape")
    expect(models).to_contain_text(MODEL)
    tid("channel-form-submit").click()
    expect(tid("channel-form")).to_be_hidden()
    row = ui.rows("channel", CHANNEL)
    channel_id = ui.row_id(row, "channel")
    expect(row).to_contain_text("OpenAI")
    saved = api(root, "GET", f"/api/channel/{channel_id}")
    assert (saved["type"], saved["models"], saved["base_url"]) == (1, MODEL, upstream.base_url)
    # test the channel from its row: one request to the fake upstream, response time shown
    tid(f"channel-test-{channel_id}").click()
    ui.toast(re.compile(rf'Channel "{CHANNEL}" passed the test in [\d.]+ s'))
    assert upstream.requests and upstream.requests[-1].json["model"] == MODEL
    expect(row).to_contain_text(re.compile(r"\d+\.\d\d s"))
    ui.shot("channels.png")
    # the key is never sent back; root reveals it on purpose (a logged action)
    tid(f"channel-edit-{channel_id}").click()
    expect(tid("channel-form-name")).to_have_value(CHANNEL)
    expect(tid("channel-form-key")).to_have_value("")
    tid("channel-form-reveal-key").click()
    expect(tid("channel-form-key")).to_have_value("sk-upstream")
    page.keyboard.press("Escape")
    expect(tid("channel-form")).to_be_hidden()
    assert any("revealed the key" in r["content"] for r in api(root, "GET", "/api/log/", params={"type": 3}))

    # --- redemption codes: a batch of 12, then the page size selector 10 -> 20 ---------------
    ui.menu("redemption", "/redemption", "redemption-create")
    expect(tid("page-size-select")).to_contain_text("10 / page")  # the default
    tid("redemption-create").click()
    tid("redemption-form-name").fill("e2e-codes")
    tid("redemption-form-quota").fill(str(CODE_QUOTA))
    tid("redemption-form-count").fill(str(CODES))
    tid("redemption-form-submit").click()
    keys_box = tid("redemption-keys")
    expect(keys_box).to_be_visible()
    codes = [k for k in (keys_box.text_content() or "").split("\n") if k.strip()]
    assert len(codes) == CODES and len(set(codes)) == CODES, codes
    page.get_by_role("dialog").filter(has=keys_box).locator(".ant-modal-close").click()
    expect(keys_box).to_be_hidden()
    expect(tid("list-total")).to_have_text(f"Total {CODES}")
    expect(ui.rows("redemption")).to_have_count(10)
    ui.page_size(20)
    expect(ui.rows("redemption")).to_have_count(CODES)
    expect(tid("list-total")).to_have_text(f"Total {CODES}")
    ui.shot("redemptions.png")

    # --- users: create the user -----------------------------------------------------------
    ui.menu("user", "/user", "user-create")
    tid("user-create").click()
    tid("user-form-username").fill(USERNAME)
    tid("user-form-display-name").fill("E2E User")
    tid("user-form-password").fill(USER_PASSWORD)
    tid("user-form-submit").click()
    expect(tid("user-form")).to_be_hidden()
    user_row = ui.rows("user", USERNAME)
    ui.row_id(user_row, "user")
    expect(user_row).to_contain_text("E2E User")
    assert password_works(gw, USERNAME, USER_PASSWORD)
    ui.shot("users.png")
    root.close()
    ui.logout()

    # --- the user signs in: a plain user's menu -----------------------------------------------
    ui.login(USERNAME, USER_PASSWORD)
    expect(page).to_have_url(f"{gw.base_url}/dashboard")
    expect(tid("menu-token")).to_be_visible()
    for key in ("channel", "user", "redemption", "setting"):
        expect(tid(f"menu-{key}")).to_have_count(0)
    expect(tid("dashboard-balance")).to_contain_text("$0.00")

    # --- top up: redeem one of root's codes --------------------------------------------------
    ui.menu("topup", "/topup", "topup-redeem-code")
    tid("topup-redeem-code").fill(codes[0])
    tid("topup-redeem-submit").click()
    ui.toast("Added $1.00 to your balance")
    expect(tid("topup-balance")).to_contain_text("$1.00")
    ui.shot("topup.png")

    # --- tokens: create one, read and copy its key ---------------------------------------------
    ui.menu("token", "/token", "token-create")
    tid("token-create").click()
    tid("token-form-name").fill(TOKEN)
    tid("token-form-submit").click()
    created = tid("token-created-key")
    expect(created).to_contain_text(re.compile(r"^sk-\w{16,}"))
    key = (created.text_content() or "").strip()
    tid("token-created-copy").click()
    ui.toast("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.get_by_role("dialog").filter(has=created).locator(".ant-modal-close").click()
    expect(created).to_be_hidden()
    token_row = ui.rows("token", TOKEN)
    token_id = ui.row_id(token_row, "token")
    expect(token_row).to_contain_text(f"{key[:7]}****{key[-4:]}")
    # the row's copy button copies the same key; "use with" shows the base URL and key
    page.evaluate("navigator.clipboard.writeText('')")
    tid(f"token-copy-{token_id}").click()
    wait_for(lambda: page.evaluate("navigator.clipboard.readText()") == key, "the row's copy")
    tid(f"token-use-{token_id}").click()
    expect(tid("use-with-base-url")).to_have_text(f"{gw.base_url}/v1")
    expect(tid("use-with-key")).to_have_text(key)
    page.keyboard.press("Escape")
    expect(tid("use-with-base-url")).to_be_hidden()
    ui.shot("tokens.png")

    # --- a relay request through the official SDK with that key ---------------------------------
    client = openai.OpenAI(base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=30)
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "tok0 tok1 tok2 tok3 tok4 "
    assert reply.usage and (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (10, 5)
    assert upstream.requests[-1].headers.get("authorization") == "Bearer sk-upstream"
    user = gw.login(USERNAME, USER_PASSWORD)
    logged = wait_for(
        lambda: [x for x in api(user, "GET", "/api/log/self") if x.get("model_name") == MODEL],
        "the consume log",
    )
    assert logged[0]["quota"] == EXPECTED_QUOTA, logged
    wait_for(lambda: api(user, "GET", "/api/user/self")["used_quota"] == EXPECTED_QUOTA, "used quota")
    user.close()

    # --- logs: the request with its model, tokens and cost ---------------------------------------
    ui.menu("log", "/log", "log-filters")
    log_row = ui.rows("log", MODEL)
    expect(log_row).to_have_count(1)
    expect(log_row).to_contain_text(TOKEN)
    expect(log_row.locator("td")).to_contain_text([MODEL, "10", "5", EXPECTED_COST])
    expect(tid("log-stat-quota")).to_have_text(EXPECTED_COST)
    expect(tid("list-total")).to_have_text("Total 2")  # the consumption and the redeemed code
    ui.shot("logs.png")

    # --- dashboard: used quota, requests, charts --------------------------------------------------
    ui.menu("dashboard", "/dashboard", "dashboard")
    expect(tid("dashboard-used")).to_contain_text(EXPECTED_COST)
    expect(tid("dashboard-requests")).to_have_text(re.compile(r"^Requests\s*1$"))
    expect(tid("dashboard-balance")).to_contain_text("$0.99994")
    expect(tid("chart-by-day")).to_contain_text(MODEL)  # the legend of the stacked bars
    expect(tid("chart-by-model").locator(".recharts-pie-sector")).to_have_count(1)
    ui.shot("dashboard.png")

    # --- language: English <-> 简体中文 ------------------------------------------------------------
    expect(tid("menu-token")).to_have_text("Tokens")
    expect(tid("lang-switch")).to_have_text("English")
    ui.language("zh-CN", "令牌")
    expect(tid("menu-log")).to_have_text("日志")
    expect(tid("dashboard-used")).to_contain_text("历史消耗")
    expect(tid("lang-switch")).to_have_text("简体中文")
    ui.shot("dashboard-zh-CN.png")
    ui.menu("log", "/log", "log-filters")
    expect(tid("list-total")).to_have_text("共 2 条")
    ui.shot("logs-zh-CN.png")
    ui.language("en", "Tokens")
    expect(tid("list-total")).to_have_text("Total 2")

    # --- phone width: the side menu folds into a drawer ---------------------------------------------
    ui.menu("dashboard", "/dashboard", "dashboard")
    page.set_viewport_size(PHONE)
    expect(tid("side-menu")).to_be_hidden()
    expect(tid("dashboard-used")).to_contain_text(EXPECTED_COST)
    ui.shot("dashboard-phone.png")
    tid("menu-toggle").click()
    expect(tid("side-menu")).to_be_visible()
    ui.shot("dashboard-phone-menu.png", full_page=False)
    tid("menu-token").click()
    expect(page).to_have_url(f"{gw.base_url}/token")
    expect(tid("side-menu")).to_be_hidden()
    expect(token_row).to_be_visible()
    page.set_viewport_size(DESKTOP)
