"""The web console under its Content-Security-Policy, in Debian's chromium (issue 18).

The gateway sends a strict CSP with every page (tests/test_security_web.py checks the
header); here a real browser proves that the built UI still works under it: root signs in,
opens the main pages and a dialog (antd writes its styles at run time), and not one CSP
violation is reported — neither as a ``securitypolicyviolation`` event nor on the console.
An inline event handler planted in operator content, on the other hand, is blocked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import gateway_env
from tests.gateway import GatewayProcess, api
from tests.ui.test_e2e import DESKTOP, ConsoleErrors

pytestmark = pytest.mark.timeout(300)

PASSWORD = "csp-Root-pass1"
# Collects every violation the document reports (the init script runs before the page's own).
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
});
"""
PAGES = [  # path, a test id that shows the page is up
    ("/", "home-default"),  # /dashboard itself is One API's billing route: reached by the menu
    ("/channel", "channel-create"),
    ("/token", "token-create"),
    ("/log", "log-filters"),
    ("/user", "user-create"),
    ("/redemption", "redemption-create"),
    ("/setting", "settings-tab-ratio"),
    ("/topup", "topup-redeem-code"),
]


@pytest.fixture(scope="module")
def csp_gateway(built_ui: Path) -> Iterator[GatewayProcess]:
    gw = GatewayProcess(gateway_env(GLOBAL_WEB_RATE_LIMIT="0"), name="ui-csp").start()
    with closing(gw.login("root", "123456")) as root:
        api(root, "PUT", "/api/user/self", json={"password": PASSWORD, "original_password": "123456"})
    yield gw
    gw.stop()


@pytest.fixture
def page(browser: Browser, csp_gateway: GatewayProcess) -> Iterator[Page]:
    ctx: BrowserContext = browser.new_context(
        base_url=csp_gateway.base_url, viewport=DESKTOP, locale="en-US", reduced_motion="reduce"
    )
    ctx.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)
    ctx.add_init_script(WATCH)
    page = ctx.new_page()
    yield page
    ctx.close()


def _violations(page: Page, console: list[str]) -> list[str]:
    reported: list[str] = page.evaluate("window.__csp || []")
    return reported + [m for m in console if "Content Security Policy" in m or "Content-Security-Policy" in m]


def _watch_console(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"{m.type}: {m.text}"))
    return seen


def test_ui_works_under_its_csp(page: Page, csp_gateway: GatewayProcess) -> None:
    console = _watch_console(page)
    errors = ConsoleErrors()
    errors.attach(page)
    response = page.goto("/login")
    assert response is not None
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp  # the policy is on
    page.get_by_test_id("login-username").fill("root")
    page.get_by_test_id("login-password").fill(PASSWORD)
    submit = page.get_by_test_id("login-submit")
    # antd's run-time styles applied: the primary button is coloured, not the browser's grey
    colour = submit.evaluate("b => getComputedStyle(b).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "rgb(239, 239, 239)", ""), colour
    submit.click()
    expect(page.get_by_test_id("dashboard")).to_be_visible()  # the dashboard's charts drawn
    assert not _violations(page, console), "\n".join(_violations(page, console))
    checked: list[str] = []
    for path, ready in PAGES:
        page.goto(path)  # a full load of each page, each under the header of its own document
        expect(page.get_by_test_id(ready).first).to_be_visible()
        expect(page.locator(".ant-spin-spinning")).to_have_count(0)
        checked.append(path)
        assert not _violations(page, console), f"CSP violations on {path}:\n" + "\n".join(
            _violations(page, console))
    # a dialog (antd portals and motion) opens and closes
    page.goto("/channel")
    page.get_by_test_id("channel-create").click()
    expect(page.get_by_test_id("channel-form-name")).to_be_visible()
    assert not _violations(page, console), "\n".join(_violations(page, console))
    assert checked == [p for p, _ in PAGES]
    assert not errors.errors, "console errors:\n" + "\n".join(errors.errors)


def test_inline_handler_in_operator_content_is_blocked(page: Page, csp_gateway: GatewayProcess) -> None:
    """Operator HTML is rendered as One API does; a script planted in it does not run."""
    console = _watch_console(page)
    with closing(csp_gateway.login("root", PASSWORD)) as root:
        api(root, "PUT", "/api/option/", json={
            "key": "About",
            "value": '# About\n\n<img src="/no-such.png" onerror="window.__planted = 1" data-testid="planted">',
        })
    page.goto("/about")
    expect(page.get_by_text("About").first).to_be_visible()
    page.wait_for_timeout(500)  # the image fails at once; its handler would have run by now
    assert page.evaluate("window.__planted") is None
    reported: list[Any] = page.evaluate("window.__csp")
    # Blocked by the CSP (reported), or removed before it reached the page by a sanitizer.
    assert all(re.search(r"script-src", v) for v in reported), reported
    assert not [m for m in console if "Refused to load" in m], console
