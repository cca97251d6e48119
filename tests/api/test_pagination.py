"""Every list paginates with p (0-based) and page_size (10/20/50/100) and returns total."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api, insert_logs

SIZES = (10, 20, 50, 100)


def _walk(
    api: Api, client: httpx.Client, path: str, size: int, params: dict[str, Any]
) -> list[int]:
    ids: list[int] = []
    total = None
    for page in range(1000):
        _, body = api.call(client, "GET", path, params={**params, "p": page, "page_size": size})
        assert body["success"], body
        total = body["total"] if total is None else total
        assert body["total"] == total
        rows = body["data"]
        assert len(rows) <= size
        if page * size < total:
            assert len(rows) == min(size, total - page * size), (path, size, page)
        if not rows:
            break
        ids += [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == total, (path, size, len(ids), total)
    return ids


@pytest.fixture(scope="module")
def filled(api: Api) -> dict[str, Any]:
    """More than 100 rows of each kind."""
    user, client = api.user_client()
    api.ok(api.root, "POST", "/api/redemption/", json={"name": "page", "quota": 1, "count": 100})
    api.ok(api.root, "POST", "/api/redemption/", json={"name": "page", "quota": 1, "count": 30})
    for i in range(105):
        api.ok(client, "POST", "/api/token/", json={"name": f"p{i}"})
    now = int(time.time())
    insert_logs(
        api,
        [
            {
                "user_id": user["id"],
                "username": user["username"],
                "created_at": now - i,
                "type": 2,
                "model_name": "page-model",
            }
            for i in range(130)
        ],
    )
    return {"user": user, "client": client}


@pytest.mark.parametrize("size", SIZES)
def test_page_sizes(api: Api, filled: dict[str, Any], size: int) -> None:
    client = filled["client"]
    tokens = _walk(api, client, "/api/token/", size, {})
    assert len(tokens) == 106  # 105 + the default token of a new user
    assert _walk(api, client, "/api/token/search", size, {"keyword": "p"})
    assert len(_walk(api, client, "/api/log/self", size, {})) == 130
    assert (
        len(_walk(api, api.root, "/api/log/", size, {"username": filled["user"]["username"]}))
        == 130
    )
    assert len(_walk(api, api.root, "/api/redemption/search", size, {"keyword": "page"})) == 130
    assert len(_walk(api, api.root, "/api/redemption/", size, {})) >= 130
    _walk(api, api.root, "/api/user/", size, {})
    _walk(api, api.root, "/api/channel/", size, {})
    ordered = _walk(api, api.root, "/api/redemption/", size, {})
    assert ordered == sorted(ordered, reverse=True)


def test_page_size_bounds(api: Api) -> None:
    for bad in ("0", "101", "-5", "ten"):
        api.refused(api.root, "GET", "/api/user/", params={"page_size": bad})
    api.refused(api.root, "GET", "/api/user/", params={"p": "-1"})
    _, body = api.call(api.root, "GET", "/api/user/", params={"p": 100000})
    assert body["data"] == [] and body["total"] >= 1
    _, body = api.call(api.root, "GET", "/api/user/")
    assert len(body["data"]) <= 10
