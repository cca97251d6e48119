"""Logs: admin filters, search, stat, delete; own logs and stats; the dashboard."""

from __future__ import annotations

import time
from typing import Any

from tests.api.conftest import Api, insert_logs


def _consume(user: dict[str, Any], at: int, model: str, quota: int, **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user["id"],
        "username": user["username"],
        "created_at": at,
        "type": 2,
        "model_name": model,
        "quota": quota,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "token_name": "tk",
        "channel_id": 7,
        "content": "ratio 1",
        **extra,
    }


def test_log_filters_stat_and_self(api: Api) -> None:
    now = int(time.time())
    user, client = api.user_client()
    other, other_client = api.user_client()
    insert_logs(
        api,
        [
            _consume(user, now - 100, "gpt-a", 100),
            _consume(user, now - 50, "gpt-b", 200, token_name="tk2", channel_id=8),
            _consume(other, now - 10, "gpt-a", 400),
            {
                "user_id": user["id"],
                "username": user["username"],
                "created_at": now - 5,
                "type": 3,
                "content": "managed",
            },
        ],
    )
    mine = api.ok(client, "GET", "/api/log/self", params={"page_size": 100})
    assert len(mine) == 3 and all(r["user_id"] == user["id"] for r in mine)
    assert "channel" not in mine[0]
    assert len(api.ok(client, "GET", "/api/log/self", params={"type": 2})) == 2
    assert [
        r["model_name"]
        for r in api.ok(client, "GET", "/api/log/self", params={"model_name": "gpt-b"})
    ] == ["gpt-b"]
    assert len(api.ok(client, "GET", "/api/log/self/search", params={"keyword": "gpt"})) == 2
    stat = api.ok(client, "GET", "/api/log/self/stat")
    assert stat == {"quota": 300, "prompt_tokens": 20, "completion_tokens": 10, "request_count": 2}
    assert api.ok(other_client, "GET", "/api/log/self/stat")["quota"] == 400

    root = api.root
    by_user = api.ok(
        root, "GET", "/api/log/", params={"username": user["username"], "page_size": 100}
    )
    assert len(by_user) == 3 and by_user[0]["channel"] is not None
    window = {"start_timestamp": now - 60, "end_timestamp": now, "username": user["username"]}
    assert len(api.ok(root, "GET", "/api/log/", params=window)) == 2
    assert (
        len(api.ok(root, "GET", "/api/log/", params={"channel": 8, "username": user["username"]}))
        == 1
    )
    assert (
        len(
            api.ok(
                root, "GET", "/api/log/", params={"token_name": "tk2", "username": user["username"]}
            )
        )
        == 1
    )
    assert (
        api.ok(root, "GET", "/api/log/stat", params={"username": user["username"]})["quota"] == 300
    )
    assert (
        api.ok(
            root,
            "GET",
            "/api/log/stat",
            params={"model_name": "gpt-a", "start_timestamp": now - 200},
        )["quota"]
        >= 500
    )
    found = api.ok(root, "GET", "/api/log/search", params={"keyword": other["username"]})
    assert found and all(r["username"] == other["username"] for r in found)
    api.refused(root, "GET", "/api/log/", params={"type": "x"})


def test_delete_old_logs(api: Api) -> None:
    user = api.user()
    insert_logs(api, [_consume(user, 1000, "old", 1), _consume(user, int(time.time()), "new", 1)])
    assert api.ok(api.root, "DELETE", "/api/log/", params={"target_timestamp": 2000}) >= 1
    left = api.ok(api.root, "GET", "/api/log/", params={"username": user["username"]})
    assert [r["model_name"] for r in left] == ["new"]
    api.refused(api.root, "DELETE", "/api/log/")


def test_dashboard_aggregates_by_day_and_model(api: Api) -> None:
    user, client = api.user_client()
    now = int(time.time())
    day = 86400
    insert_logs(
        api,
        [
            _consume(user, now - 60, "m1", 10),
            _consume(user, now - 30, "m1", 20),
            _consume(user, now - 20, "m2", 5),
            _consume(user, now - 2 * day, "m1", 1),
            _consume(user, now - 30 * day, "m1", 999),  # older than 7 days
            {"user_id": user["id"], "created_at": now, "type": 1, "quota": 50},  # not consumption
        ],
    )
    rows = api.ok(client, "GET", "/api/user/dashboard")
    assert {r["ModelName"] for r in rows} == {"m1", "m2"}
    assert sum(r["Quota"] for r in rows) == 36 and sum(r["RequestCount"] for r in rows) == 4
    today = time.strftime("%Y-%m-%d", time.localtime(now - 20))
    m2 = next(r for r in rows if r["ModelName"] == "m2")
    assert m2 == {
        "Day": today,
        "ModelName": "m2",
        "RequestCount": 1,
        "Quota": 5,
        "PromptTokens": 10,
        "CompletionTokens": 5,
    }
    assert len({r["Day"] for r in rows}) == 2 or len({r["Day"] for r in rows}) == 3
