"""The role matrix: every /api route × {anonymous, user, other user, admin, root}.

Table-driven from the app's url_map (through /api/openapi.json, which is built from it, and
checked against an in-process app's url_map): a route without an entry here fails the test.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import Api

IDENTITIES = ("anonymous", "user", "other", "admin", "root")
LEVEL = {"user": 1, "admin": 10, "root": 100}
RANK = {"anonymous": 0, "user": 1, "other": 1, "admin": 10, "root": 100}

# route -> the least role it needs ("public", "user", "admin", "root"), optionally with
# per-identity outcomes that differ from that rule ("deny" = 401 or a refusal
# saying why, "missing" = 404 or "... not found").
MATRIX: dict[str, str | tuple[str, dict[str, str]]] = {
    "GET /api/status": "public",
    "GET /api/notice": "public",
    "GET /api/about": "public",
    "GET /api/home_page_content": "public",
    "GET /api/openapi.json": "public",
    "GET /api/plugins": "admin",
    "GET /api/verification": "public",
    "GET /api/reset_password": "public",
    "POST /api/user/reset": "public",
    "GET /api/oauth/state": "public",
    "GET /api/oauth/github": "public",
    "GET /api/oauth/oidc": "public",
    "GET /api/oauth/lark": "public",
    "GET /api/oauth/wechat": "public",
    "GET /api/oauth/wechat/bind": "user",
    "DELETE /api/user/self/bindings/{binding_type}": "user",
    "DELETE /api/user/{user_id}/bindings/{binding_type}": "admin",
    "GET /api/oauth/email/bind": "user",
    "POST /api/user/login": "public",
    "GET /api/user/logout": "public",
    "POST /api/user/register": "public",
    "GET /api/user/self": "user",
    "PUT /api/user/self": "user",
    "DELETE /api/user/self": ("user", {"root": "deny"}),
    "GET /api/user/token": "user",
    "GET /api/user/aff": "user",
    "GET /api/user/dashboard": "user",
    "GET /api/user/available_models": "user",
    "POST /api/user/topup": "user",
    "GET /api/models": "user",
    "GET /api/user/": "admin",
    "GET /api/user/search": "admin",
    "GET /api/user/{user_id}": "admin",
    "POST /api/user/": "admin",
    "PUT /api/user/": "admin",
    "POST /api/user/manage": "admin",
    "DELETE /api/user/{user_id}": "admin",
    "GET /api/token/": "user",
    "GET /api/token/search": "user",
    "GET /api/token/{token_id}": (
        "user",
        {"other": "missing", "admin": "missing", "root": "missing"},
    ),
    "POST /api/token/": "user",
    "PUT /api/token/": ("user", {"other": "missing", "admin": "missing", "root": "missing"}),
    "DELETE /api/token/{token_id}": (
        "user",
        {"other": "missing", "admin": "missing", "root": "missing"},
    ),
    "GET /api/channel/": "admin",
    "GET /api/channel/search": "admin",
    "GET /api/channel/{channel_id}": "admin",
    "POST /api/channel/{channel_id}/key": "root",
    "POST /api/channel/": "admin",
    "PUT /api/channel/": "admin",
    "DELETE /api/channel/{channel_id}": "admin",
    "DELETE /api/channel/disabled": "admin",
    "GET /api/channel/types": "admin",
    "GET /api/channel/models": "admin",
    "GET /api/channel/test": "admin",
    "GET /api/channel/test/{channel_id}": "admin",
    "GET /api/channel/update_balance": "admin",
    "GET /api/channel/update_balance/{channel_id}": "admin",
    "GET /api/log/": "admin",
    "DELETE /api/log/": "admin",
    "GET /api/log/search": "admin",
    "GET /api/log/stat": "admin",
    "GET /api/log/ledger_failures": "admin",
    "GET /api/log/holds": "admin",
    "GET /api/log/self": "user",
    "GET /api/log/self/search": "user",
    "GET /api/log/self/stat": "user",
    "GET /api/redemption/": "admin",
    "GET /api/redemption/search": "admin",
    "GET /api/redemption/{redemption_id}": "admin",
    "POST /api/redemption/": "admin",
    "PUT /api/redemption/": "admin",
    "DELETE /api/redemption/{redemption_id}": "admin",
    "GET /api/option/": "root",
    "GET /api/option/specs": "admin",
    "PUT /api/option/": "root",
    "GET /api/group/": "admin",
    "POST /api/topup": "admin",
    "GET /api/{rest}": "public",
    "POST /api/{rest}": "public",
    "PUT /api/{rest}": "public",
    "DELETE /api/{rest}": "public",
    "PATCH /api/{rest}": "public",
}

# Routes of optional parts (payment core, plugins): checked when present, may be absent.
OPTIONAL: dict[str, str | tuple[str, dict[str, str]]] = {
    "GET /api/user/topup/info": "user",
    "GET /api/user/topup/self": "user",
    "POST /api/user/amount": "user",
    "POST /api/user/pay": "user",
    "GET /api/topup/": "admin",
    "GET /api/mj/": "admin",
    "GET /api/mj/self": "user",
    "GET /api/user/epay/notify": "public",
    "POST /api/user/epay/notify": "public",
}
MATRIX.update(OPTIONAL)

PLAIN_TEXT = {"GET /api/user/epay/notify", "POST /api/user/epay/notify"}
MISSING_ID = 2_147_480_000


def expected(route: str, identity: str) -> str:
    entry = MATRIX[route]
    level, special = (entry, {}) if isinstance(entry, str) else entry
    if identity in special:
        return special[identity]
    if level == "public":
        return "allow"
    return "allow" if RANK[identity] >= LEVEL[level] else "deny"


def _routes(api: Api) -> list[str]:
    doc = httpx.get(api.base_url + "/api/openapi.json").json()
    return sorted(f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops)


def test_every_route_has_an_entry(api: Api) -> None:
    routes = _routes(api)
    missing = [r for r in routes if r not in MATRIX]
    assert not missing, f"routes without a role-matrix entry: {missing}"
    stale = [r for r in MATRIX if r not in routes and r not in OPTIONAL]
    assert not stale, f"matrix entries of routes that no longer exist: {stale}"


async def test_openapi_lists_every_url_map_rule(tmp_path: Any) -> None:
    """The in-process app's url_map and the served document agree (every /api rule documented)."""
    from oneapi.api.openapi import build_openapi
    from oneapi.app import create_app
    from oneapi.settings import load_settings

    app = create_app(load_settings(SQLITE_PATH=str(tmp_path / "x.db"), SESSION_SECRET="x"))
    rules = {
        (m, r.rule)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/")
        for m in (r.methods or set()) - {"HEAD", "OPTIONS"}
    }
    async with app.app_context():
        doc = build_openapi()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    import re

    as_doc = {(m, re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule)) for m, rule in rules}
    assert as_doc == documented
    for (method, path), op in ((k, doc["paths"][k[1]][k[0].lower()]) for k in documented):
        if method in ("POST", "PUT") and "{rest}" not in path:
            assert "requestBody" in op, f"{method} {path} documents no body"


class Identities:
    """Access-token headers of the five identities (no cookies, so logout harms nothing)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.headers: dict[str, dict[str, str]] = {"anonymous": {}}
        self.users: dict[str, dict[str, Any]] = {}
        for name, role in (("user", 1), ("other", 1), ("admin", 10)):
            self.users[name], client = api.user_client(role)
            self.headers[name] = {"Authorization": api.ok(client, "GET", "/api/user/token")}
        self.headers["root"] = {"Authorization": api.ok(api.root, "GET", "/api/user/token")}
        self.user_client = api.login(self.users["user"]["username"])
        self.http = api.client()

    def fresh(self, identity: str) -> dict[str, str]:
        """Headers of a throwaway identity of the same role (for self-destructive routes)."""
        if identity in ("anonymous", "root"):
            return self.headers[identity]
        _, client = self.api.user_client(10 if identity == "admin" else 1)
        return {"Authorization": self.api.ok(client, "GET", "/api/user/token")}

    def token_id(self) -> int:
        """A new token of "user" (the owner); the others must not reach it."""
        data = self.api.ok(self.user_client, "POST", "/api/token/", json={"name": "matrix"})
        return int(data["id"])


def _request(ids: Identities, route: str, identity: str) -> httpx.Response:
    method, path = route.split(" ", 1)
    headers = ids.fresh(identity) if route == "DELETE /api/user/self" else ids.headers[identity]
    body: dict[str, Any] = {}
    if "{token_id}" in path or route == "PUT /api/token/":
        token_id = ids.token_id()
        path = path.replace("{token_id}", str(token_id))
        body = {"id": token_id}
    for name in ("{user_id}", "{channel_id}", "{redemption_id}"):
        path = path.replace(name, str(MISSING_ID))
    path = path.replace("{rest}", "no/such/route").replace("{binding_type}", "github")
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = body
    ids.http.cookies.clear()
    return ids.http.request(method, path, **kwargs)


DENIALS = ("not logged in", "the access token is invalid", "permission denied",
           "this user is disabled", "the root user cannot")


def _outcome(status: int, body: dict[str, Any]) -> str:
    """One API's way: 401 without credentials, otherwise 200 and a message saying why."""
    message = str(body.get("message", "")) if not body.get("success") else ""
    if status == 401 or message.startswith(DENIALS):
        return "deny"
    if status == 404 or message.endswith("not found"):
        return "missing"
    return "allow"


def test_role_matrix(api: Api) -> None:
    ids = Identities(api)
    failures = []
    for route in _routes(api):
        for identity in IDENTITIES:
            want = expected(route, identity)
            r = _request(ids, route, identity)
            if r.status_code >= 500:
                failures.append(f"{route} as {identity}: HTTP {r.status_code}")
                continue
            body = r.json() if route not in PLAIN_TEXT else {}
            if route == "GET /api/user/token" and body.get("success"):
                ids.headers[identity] = {"Authorization": body["data"]}
            got = _outcome(r.status_code, body)
            if want == "allow" and got == "missing":
                got = "allow"  # an unknown id after passing the role check
            if got != want or (got != "allow" and body.get("success")):
                failures.append(
                    f"{route} as {identity}: want {want}, got {r.status_code} {body.get('message')}"
                )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("target_role", [10, 100])
def test_admin_cannot_act_on_equal_or_higher(api: Api, target_role: int) -> None:
    _, admin = api.user_client(10)
    target = api.user(10) if target_role == 10 else api.ok(api.root, "GET", "/api/user/self")
    api.refused(admin, "GET", f"/api/user/{target['id']}")
    api.refused(admin, "PUT", "/api/user/", json={"id": target["id"], "quota": 5})
    api.refused(
        admin, "POST", "/api/user/manage", json={"id": target["id"], "action": "disable"}
    )
    api.refused(admin, "DELETE", f"/api/user/{target['id']}")
    api.refused(admin, "POST", "/api/topup", json={"user_id": target["id"], "quota": 5})
    plain = api.user()
    api.refused(admin, "PUT", "/api/user/", json={"id": plain["id"], "role": 10})
    api.refused(
        admin, "POST", "/api/user/manage", json={"id": plain["id"], "action": "promote"}
    )
