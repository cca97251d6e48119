"""Cross-site request forgery in a real browser (issue 18): a page on another port of the same
host (the same *site*, so SameSite=Lax sends the admin's cookie along) submits a text/plain
form to POST /api/topup and navigates to GET /api/user/token. Neither may act."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import gateway_env
from tests.gateway import GatewayProcess, api

pytestmark = pytest.mark.timeout(120)


class _Attacker:
    """Serves one HTML page on its own loopback port."""

    def __init__(self) -> None:
        self.page = b""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(outer.page)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[GatewayProcess, _Attacker]]:
    gw = GatewayProcess(gateway_env(), name="csrf").start()
    attacker = _Attacker()
    yield gw, attacker
    attacker.close()
    gw.stop()


def test_forms_and_navigations_from_another_origin_do_nothing(browser, site) -> None:  # type: ignore[no-untyped-def]
    gw, attacker = site
    root = gw.login()
    api(root, "POST", "/api/user/", json={"username": "beneficiary", "password": "password123"})
    target = api(root, "GET", "/api/user/search", params={"keyword": "beneficiary"})[0]
    me = api(root, "GET", "/api/user/self")
    context = browser.new_context()
    try:
        page = context.new_page()
        login = context.request.post(f"{gw.base_url}/api/user/login",
                                     data={"username": "root", "password": "123456"})
        assert login.json()["success"]
        token = context.request.get(f"{gw.base_url}/api/user/token").json()["data"]
        # A text/plain form whose body parses as JSON: {"user_id":N,"quota":777,"x":"="}
        attacker.page = (
            f'<form id="f" method="POST" enctype="text/plain" action="{gw.base_url}/api/topup">'
            f'<input name=\'{{"user_id":{target["id"]},"quota":777,"x":"\' value=\'"}}\'></form>'
            '<script>document.getElementById("f").submit()</script>'
        ).encode()
        page.goto(attacker.url)
        page.wait_for_url(f"{gw.base_url}/api/topup")
        assert '"success":false' in page.content().replace(" ", "")
        assert api(root, "GET", f"/api/user/{target['id']}")["quota"] == target["quota"]
        # A top-level navigation to a GET that changes state (rotates the access token).
        attacker.page = f'<script>location.href = "{gw.base_url}/api/user/token"</script>'.encode()
        page.goto(attacker.url)
        page.wait_for_url(f"{gw.base_url}/api/user/token")
        assert '"success":false' in page.content().replace(" ", "")
        script = gw.client(headers={"Authorization": token})
        assert api(script, "GET", "/api/user/self")["id"] == me["id"]  # not rotated away
        # The same calls from the gateway's own pages still work.
        page.goto(f"{gw.base_url}/")
        same_origin = page.evaluate("""async () => {
            const r = await fetch('/api/user/self', {credentials: 'same-origin'});
            return (await r.json()).success;
        }""")
        assert same_origin is True
    finally:
        context.close()
