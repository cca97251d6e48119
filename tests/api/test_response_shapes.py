"""Answers match the shapes /api/openapi.json documents for them (``@doc(response=...)``).

The web UI's types are generated from that document, so a serializer that adds, drops or
retypes a key must change its model in ``oneapi.api.schemas`` too (and the UI's types with it).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter

from tests.api.conftest import Api


def _documented(tmp_path: Any) -> dict[str, Any]:
    """``"GET /api/..."`` → the response type named by the view's ``@doc``."""
    from oneapi.app import create_app
    from oneapi.settings import load_settings

    app = create_app(load_settings(SQLITE_PATH=str(tmp_path / "shapes.db"), SESSION_SECRET="x"))
    out: dict[str, Any] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        response = (getattr(view, "api_doc", None) or {}).get("response")
        if response is None or "GET" not in (rule.methods or ()):
            continue
        out["GET " + re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)] = response
    return out


def test_get_answers_match_their_documented_shape(api: Api, tmp_path: Any) -> None:
    documented = _documented(tmp_path)
    assert "GET /api/status" in documented and "GET /api/option/specs" in documented
    # something in every list: a user, a token of root's, a channel, a code, a log
    user = api.user()
    api.ok(api.root, "POST", "/api/token/", json={"name": "shapes"})
    api.ok(
        api.root, "POST", "/api/channel/",
        json={"type": 1, "name": "shapes", "key": "sk-x", "models": "m", "group": "default"},
    )  # fmt: skip
    api.ok(api.root, "POST", "/api/redemption/", json={"name": "shapes", "quota": 5, "count": 1})
    api.ok(api.root, "POST", "/api/topup", json={"user_id": user["id"], "quota": 5})

    ids: dict[str, int] = {}
    checked = []
    for route in sorted(documented, key=lambda r: "{" in r):  # lists first: they give the ids
        path = route.removeprefix("GET ")
        for name, source in (
            ("{user_id}", "/api/user/"),
            ("{token_id}", "/api/token/"),
            ("{channel_id}", "/api/channel/"),
            ("{redemption_id}", "/api/redemption/"),
        ):
            path = path.replace(name, str(ids.get(source, 0)))
        if "{" in path:
            continue  # a plugin's item route: nothing of it here
        status, body = api.call(api.root, "GET", path)
        assert status == 200 and body["success"], f"{route}: {body}"
        data = body["data"]
        TypeAdapter(documented[route]).validate_python(data, strict=False)
        if isinstance(data, list) and data and isinstance(data[0], dict) and isinstance(data[0].get("id"), int):
            ids.setdefault(path, int(data[0]["id"]))
        checked.append(route)
    for must in ("GET /api/user/", "GET /api/token/{token_id}", "GET /api/log/", "GET /api/status"):
        assert must in checked, f"{must} was not checked: {checked}"
