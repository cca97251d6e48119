"""The web console follows the loaded plugins (issue 21, item 3), in Debian's chromium.

With ``ONEAPI_DISABLED_PLUGINS=midjourney`` the gateway has no Midjourney plugin: no menu entry,
no settings tab, and /midjourney is an unknown page. With it loaded, all three are there, and
its settings are rendered from the plugin's option descriptions (labels in the language chosen,
switches that save). EPay's fields sit in the core's payment tab; its secret is write-only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import gateway_env
from tests.gateway import GatewayProcess, api
from tests.ui.test_e2e import DESKTOP, ConsoleErrors

pytestmark = pytest.mark.timeout(300)

PASSWORD = "plugins-Root-1"


@pytest.fixture(scope="module", params=["midjourney-disabled", "midjourney-loaded"])
def plugin_gateway(request: pytest.FixtureRequest, built_ui: Path) -> Iterator[GatewayProcess]:
    """A gateway with or without the Midjourney plugin; root's password already changed."""
    extra = {"ONEAPI_DISABLED_PLUGINS": "midjourney"} if request.param.endswith("disabled") else {}
    gw = GatewayProcess(gateway_env(**extra), name=f"ui-{request.param}").start()
    with closing(gw.login("root", "123456")) as root:
        api(
            root,
            "PUT",
            "/api/user/self",
            json={"password": PASSWORD, "original_password": "123456"},
        )
    yield gw
    gw.stop()


@pytest.fixture
def page(browser: Browser, plugin_gateway: GatewayProcess) -> Iterator[Page]:
    ctx: BrowserContext = browser.new_context(
        base_url=plugin_gateway.base_url, viewport=DESKTOP, locale="en-US", reduced_motion="reduce"
    )
    ctx.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    page = ctx.new_page()
    console = ConsoleErrors()
    console.attach(page)
    page.goto("/login")
    page.get_by_test_id("login-username").fill("root")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("dashboard")).to_be_visible()
    yield page
    ctx.close()
    assert not console.errors, "console errors:\n" + "\n".join(console.errors)


def _loaded(gw: GatewayProcess) -> set[str]:
    with gw.client() as anonymous:
        return {p["name"] for p in api(anonymous, "GET", "/api/status")["plugins"]}


def test_midjourney_ui_follows_the_plugin(
    page: Page, plugin_gateway: GatewayProcess, artifacts: Path
) -> None:
    tid = page.get_by_test_id
    loaded = "midjourney" in _loaded(plugin_gateway)
    assert "epay" in _loaded(plugin_gateway)
    expect(tid("menu-token")).to_be_visible()
    tid("menu-setting").click()
    expect(tid("settings-tab-system")).to_be_visible()
    if not loaded:
        expect(tid("menu-midjourney")).to_have_count(0)
        expect(tid("settings-tab-midjourney")).to_have_count(0)
        expect(page.locator('[data-testid^="option-Mj"]')).to_have_count(0)
        page.goto("/midjourney")
        expect(tid("not-found")).to_be_visible()
        return
    # the menu entry, after "Top up", and the page behind it
    expect(tid("menu-midjourney")).to_be_visible()
    keys = page.locator('[data-testid^="menu-"]').evaluate_all(
        "els => els.map(e => e.dataset.testid)"
    )
    assert keys.index("menu-midjourney") == keys.index("menu-topup") + 1, keys
    # the plugin's own settings tab, built from its option descriptions
    tid("settings-tab-midjourney").click()
    group = tid("settings-group-midjourney")
    expect(group).to_contain_text("Let clients set a notify hook")
    expect(group).to_contain_text("Poll interval (seconds)")
    expect(tid("option-MjPollInterval")).to_have_value("15")
    page.screenshot(path=str(artifacts / "settings-midjourney.png"), full_page=True)
    tid("option-MjNotifyEnabled").click()  # a switch saves at once
    expect(tid("option-MjNotifyEnabled")).to_have_attribute("aria-checked", "true")
    with closing(plugin_gateway.login("root", PASSWORD)) as root:
        options = {o["key"]: o["value"] for o in api(root, "GET", "/api/option/")}
    assert options["MjNotifyEnabled"] == "true"
    # labels follow the language
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("lang-option-zh-CN").click()
    expect(group).to_contain_text("允许客户端设置回调地址")
    expect(group).to_contain_text("轮询间隔（秒）")
    page.get_by_test_id("lang-switch").click()
    page.get_by_test_id("lang-option-en").click()
    expect(tid("menu-token")).to_have_text("Tokens")
    tid("menu-midjourney").click()
    expect(tid("mj-refresh")).to_be_visible()


def test_payment_plugin_fields_are_in_the_payment_tab(
    page: Page, plugin_gateway: GatewayProcess, artifacts: Path
) -> None:
    if "midjourney" not in _loaded(plugin_gateway):
        pytest.skip("checked once, with every plugin loaded")
    tid = page.get_by_test_id
    with closing(plugin_gateway.login("root", PASSWORD)) as root:
        api(root, "PUT", "/api/option/", json={"key": "EpayKey", "value": "stored-merchant-key"})
    tid("menu-setting").click()
    tid("settings-tab-payment").click()
    epay = tid("settings-group-epay")
    expect(epay).to_contain_text("EPay address")
    expect(tid("settings-group-pricing")).to_be_visible()
    expect(tid("option-EpayKey")).to_have_value("")  # write-only: the stored key is never shown
    tid("option-PayAddress").fill("https://pay.example.com")
    tid("settings-save-epay").click()
    expect(page.locator(".ant-message-notice").filter(has_text="1 settings saved")).to_be_visible()
    with closing(plugin_gateway.login("root", PASSWORD)) as root:
        options = {o["key"]: o["value"] for o in api(root, "GET", "/api/option/")}
    assert options["PayAddress"] == "https://pay.example.com"
    page.screenshot(path=str(artifacts / "settings-payment.png"), full_page=True)
