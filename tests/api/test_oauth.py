"""GitHub OAuth and Turnstile against loopback fakes (own gateway with the URLs overridden)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from oneapi.settings import Settings
from tests.gateway import GatewayProcess

pytestmark = pytest.mark.skipif(
    not {"GITHUB_OAUTH_URL", "GITHUB_API_URL", "TURNSTILE_VERIFY_URL"}
    <= set(Settings.model_fields),
    reason="Settings lacks GITHUB_OAUTH_URL / GITHUB_API_URL / TURNSTILE_VERIFY_URL (requested from the lead)",
)


class FakeGitHub:
    """GitHub's token and user endpoints plus Turnstile's siteverify, in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.login = "octocat"

    async def _token(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("code") != "good-code":
            return web.json_response({"error": "bad_verification_code"})
        return web.json_response({"access_token": "gh-token", "token_type": "bearer"})

    async def _user(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer gh-token":
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response(
            {"login": self.login, "name": "The Octocat", "email": "octo@example.com", "id": 1}
        )

    async def _siteverify(self, request: web.Request) -> web.Response:
        form = await request.post()
        return web.json_response({"success": form.get("response") == "human"})

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/login/oauth/access_token", self._token)
        app.router.add_get("/user", self._user)
        app.router.add_post("/siteverify", self._siteverify)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self.ready.set()
        self.loop.run_forever()

    def __enter__(self) -> FakeGitHub:
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[GatewayProcess, FakeGitHub]]:
    with FakeGitHub() as fake:
        base = f"http://127.0.0.1:{fake.port}"
        proc = GatewayProcess(
            {
                "GITHUB_OAUTH_URL": base,
                "GITHUB_API_URL": base,
                "TURNSTILE_VERIFY_URL": base + "/siteverify",
            },
            name="oauth",
        ).start()
        try:
            yield proc, fake
        finally:
            proc.stop()


def _option(root: Any, key: str, value: str) -> None:
    assert root.put("/api/option/", json={"key": key, "value": value}).json()["success"]


def test_github_login_registers_then_logs_in(setup: tuple[GatewayProcess, FakeGitHub]) -> None:
    proc, fake = setup
    root = proc.login()
    _option(root, "GitHubClientId", "cid")
    _option(root, "GitHubClientSecret", "secret")
    _option(root, "GitHubOAuthEnabled", "true")
    browser = proc.client()
    state = browser.get("/api/oauth/state").json()["data"]
    wrong = browser.get("/api/oauth/github", params={"code": "good-code", "state": "wrong"})
    assert wrong.status_code == 200 and "state does not match" in wrong.json()["message"]
    r = browser.get("/api/oauth/github", params={"code": "bad-code", "state": state})
    assert r.status_code == 200 and not r.json()["success"]
    first = browser.get("/api/oauth/github", params={"code": "good-code", "state": state}).json()
    assert first["success"] and first["data"]["username"].startswith("github_")
    me = browser.get("/api/user/self").json()["data"]
    assert me["github_id"] == "octocat" and me["display_name"] == "The Octocat"
    again = proc.client()
    state = again.get("/api/oauth/state").json()["data"]
    assert (
        again.get("/api/oauth/github", params={"code": "good-code", "state": state}).json()["data"][
            "id"
        ]
        == me["id"]
    )
    # a signed-in user binds another GitHub account
    fake.login = "other-octo"
    state = root.get("/api/oauth/state").json()["data"]
    assert root.get("/api/oauth/github", params={"code": "good-code", "state": state}).json()[
        "success"
    ]
    assert root.get("/api/user/self").json()["data"]["github_id"] == "other-octo"


def test_turnstile_guards_registration(setup: tuple[GatewayProcess, FakeGitHub]) -> None:
    proc, _ = setup
    root = proc.login()
    _option(root, "TurnstileSiteKey", "site")
    _option(root, "TurnstileSecretKey", "secret")
    _option(root, "TurnstileCheckEnabled", "true")
    try:
        anon = proc.client()
        body = {"username": "tsuser", "password": "password123"}
        missing = anon.post("/api/user/register", json=body)
        assert missing.status_code == 200 and "Turnstile" in missing.json()["message"]
        robot = anon.post("/api/user/register", params={"turnstile": "robot"}, json=body)
        assert robot.status_code == 200 and "Turnstile check failed" in robot.json()["message"]
        assert anon.post("/api/user/register", params={"turnstile": "human"}, json=body).json()[
            "success"
        ]
    finally:
        _option(root, "TurnstileCheckEnabled", "false")
