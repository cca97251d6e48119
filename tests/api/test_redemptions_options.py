"""Redemption codes (CRUD, redeeming exactly once under concurrency) and options."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.conftest import PASSWORD, Api


def test_redemption_crud(api: Api) -> None:
    root = api.root
    keys = api.ok(
        root, "POST", "/api/redemption/", json={"name": "promo", "quota": 1000, "count": 3}
    )
    assert (
        len(keys) == 3 and all(len(k) == 32 and k.isalnum() for k in keys) and len(set(keys)) == 3
    )
    found = api.ok(root, "GET", "/api/redemption/search", params={"keyword": keys[0]})
    assert len(found) == 1 and found[0]["quota"] == 1000
    rid = found[0]["id"]
    assert api.ok(root, "GET", f"/api/redemption/{rid}")["key"] == keys[0]
    assert (
        api.ok(root, "PUT", "/api/redemption/", json={"id": rid, "name": "promo2", "quota": 5})[
            "quota"
        ]
        == 5
    )
    api.ok(
        root, "PUT", "/api/redemption/", params={"status_only": 1}, json={"id": rid, "status": 2}
    )
    _, client = api.user_client()
    assert "used or is disabled" in api.refused(
        client, "POST", "/api/user/topup", json={"key": keys[0]}
    )
    api.ok(
        root, "PUT", "/api/redemption/", params={"status_only": 1}, json={"id": rid, "status": 1}
    )
    assert api.ok(client, "POST", "/api/user/topup", json={"key": keys[0]}) == 5
    api.refused(
        root, "PUT", "/api/redemption/", json={"id": rid, "quota": 9}
    )  # used codes stay
    api.refused(root, "POST", "/api/redemption/", json={"name": "x", "quota": 1, "count": 101})
    api.refused(root, "POST", "/api/redemption/", json={"name": "x", "quota": 1, "count": 0})
    api.refused(root, "POST", "/api/redemption/", json={"name": "", "quota": 1})
    api.refused(root, "POST", "/api/redemption/", json={"name": "x" * 21, "quota": 1})
    api.refused(client, "POST", "/api/user/topup", json={"key": "no-such-key"})
    api.ok(root, "DELETE", f"/api/redemption/{rid}")
    api.refused(root, "GET", f"/api/redemption/{rid}")


async def test_concurrent_redemption_succeeds_once(api: Api) -> None:
    key = api.ok(api.root, "POST", "/api/redemption/", json={"name": "race", "quota": 777})[0]
    users = [api.user() for _ in range(4)]
    sessions = []
    for user in users:
        async_client = httpx.AsyncClient(base_url=api.base_url, timeout=30)
        r = await async_client.post(
            "/api/user/login", json={"username": user["username"], "password": PASSWORD}
        )
        assert r.json()["success"]
        sessions.append(async_client)
    attempts = [c.post("/api/user/topup", json={"key": key}) for c in sessions for _ in range(5)]
    answers = await asyncio.gather(*attempts)
    for c in sessions:
        await c.aclose()
    assert all(r.status_code < 500 for r in answers), [
        r.text for r in answers if r.status_code >= 500
    ]
    successes = [r for r in answers if r.json()["success"]]
    assert len(successes) == 1
    quotas = [api.ok(api.root, "GET", f"/api/user/{u['id']}")["quota"] for u in users]
    assert sorted(quotas) == [0, 0, 0, 777]
    logs = api.ok(
        api.root,
        "GET",
        "/api/log/search",
        params={"keyword": "redeemed", "type": 1, "page_size": 100},
    )
    assert (
        sum(1 for log in logs if log["quota"] == 777 and log["user_id"] in {u["id"] for u in users})
        == 1
    )


def test_options_list_hides_secrets(api: Api) -> None:
    api.option("SMTPToken", "very-secret")
    api.option("GitHubClientSecret", "also-secret")
    options = {o["key"]: o["value"] for o in api.ok(api.root, "GET", "/api/option/")}
    assert options["SMTPToken"] == "" and options["GitHubClientSecret"] == ""
    assert options["SystemName"] and "ModelRatio" in options and "QuotaPerUnit" in options


def test_option_validation(api: Api) -> None:
    root = api.root
    before = {o["key"]: o["value"] for o in api.ok(root, "GET", "/api/option/")}
    bad = [
        ("ModelRatio", '{"gpt-4": 15'),
        ("ModelRatio", "[1, 2]"),
        ("ModelRatio", '{"gpt-4": "fifteen"}'),
        ("GroupRatio", '{"vip": -1}'),
        ("QuotaForNewUser", "lots"),
        ("QuotaForNewUser", "1" * 30),
        ("QuotaPerUnit", "0"),
        ("QuotaPerUnit", "nan"),
        ("RegisterEnabled", "maybe"),
        ("Theme", "neon"),
        ("NoSuchOption", "1"),
        ("GitHubOAuthEnabled", "true"),  # needs GitHubClientId first
    ]
    for key, value in bad:
        message = api.refused(root, "PUT", "/api/option/", json={"key": key, "value": value})
        assert message, (key, value)
    after = {o["key"]: o["value"] for o in api.ok(root, "GET", "/api/option/")}
    assert after == before
    api.option("ModelRatio", '{"my-model": 2.5}')
    assert {o["key"]: o["value"] for o in api.ok(root, "GET", "/api/option/")}[
        "ModelRatio"
    ] == '{"my-model": 2.5}'
    api.ok(root, "PUT", "/api/option/", json={"key": "DisplayTokenStatEnabled", "value": False})
    assert api.ok(api.client(), "GET", "/api/status")["display_token_stat"] is False
    api.ok(root, "PUT", "/api/option/", json={"key": "DisplayTokenStatEnabled", "value": True})
    api.option("Notice", "hello <b>world</b>")
    assert api.ok(api.client(), "GET", "/api/notice") == "hello <b>world</b>"
    api.option("ModelRatio", "{}")


def test_options_are_root_only(api: Api) -> None:
    _, admin = api.user_client(10)
    api.refused(admin, "GET", "/api/option/")
    api.refused(admin, "PUT", "/api/option/", json={"key": "Notice", "value": "x"})


def test_operator_html_reaches_visitors_without_scripts(api: Api) -> None:
    """Notice, About, Home and Footer stay HTML (operators rely on it), but a stolen admin
    account cannot plant a script for every visitor through them."""
    planted = ('<div style="text-align:center" onmouseover="steal()">Welcome'
               '<script>steal()</script><img src="x" onerror="steal()">'
               '<a href="javascript:steal()">x</a><iframe src="https://docs.example/"></iframe></div>')
    markdown = "> **Note**: maintenance at 02:00 UTC"
    anon = api.client()
    for key, route in (("Notice", "/api/notice"), ("About", "/api/about"),
                       ("HomePageContent", "/api/home_page_content"), ("Footer", "/api/status")):
        api.ok(api.root, "PUT", "/api/option/", json={"key": key, "value": planted})
        try:
            shown = api.ok(anon, "GET", route)
            html = shown["footer_html"] if key == "Footer" else shown
            assert "steal" not in html and "<script" not in html and "javascript:" not in html, html
            assert '<div style="text-align:center">Welcome' in html
            assert '<iframe src="https://docs.example/">' in html
            api.ok(api.root, "PUT", "/api/option/", json={"key": key, "value": markdown})
            shown = api.ok(anon, "GET", route)
            assert (shown["footer_html"] if key == "Footer" else shown) == markdown
        finally:
            api.ok(api.root, "PUT", "/api/option/", json={"key": key, "value": ""})
