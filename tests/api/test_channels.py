"""Channel CRUD, key masking, abilities, types, tests and balances."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.api.conftest import Api, unique
from tests.fakes.openai_upstream import FakeOpenAI

CLOSED = "http://127.0.0.1:9"  # nothing listens there


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(expected_key="sk-upstream-good-key-1234") as upstream:
        yield upstream


def _channel(api: Api, **fields: object) -> dict:
    body = {
        "type": 1,
        "name": unique("c"),
        "key": "sk-some-long-upstream-key-0001",
        "base_url": CLOSED,
        "models": "gpt-4o-mini",
        "group": "default",
        **fields,
    }
    created = api.ok(api.root, "POST", "/api/channel/", json=body)
    assert len(created) == 1
    return created[0]


def test_channel_crud_and_masking(api: Api) -> None:
    key = "sk-abcdefghijklmnopqrstuvwxyz0123456789"
    ch = _channel(
        api,
        key=key,
        openai_organization="org-1",
        config={"x": 1},
        model_mapping={"gpt-4o-mini": "gpt-4o"},
        priority=5,
        weight=3,
    )
    cid = ch["id"]
    assert ch["key"] != key and "****" in ch["key"]
    listed = api.ok(api.root, "GET", "/api/channel/", params={"page_size": 100})
    assert all(key not in json.dumps(c) for c in listed) and any(c["id"] == cid for c in listed)
    searched = api.ok(api.root, "GET", "/api/channel/search", params={"keyword": ch["name"]})
    assert [c["id"] for c in searched] == [cid] and searched[0]["key"] != key
    full = api.ok(api.root, "GET", f"/api/channel/{cid}")
    assert full["key"] == "" and full["openai_organization"] == "org-1"  # One API never sends it
    assert _reveal(api, cid) == key
    assert json.loads(full["config"]) == {"x": 1} and json.loads(full["model_mapping"]) == {
        "gpt-4o-mini": "gpt-4o"
    }
    assert (full["priority"], full["weight"], full["used_quota"]) == (5, 3, 0)
    # an update that sends the masked key back keeps the real key
    api.ok(api.root, "PUT", "/api/channel/", json={**ch, "name": "renamed", "models": "a, b,a"})
    after = api.ok(api.root, "GET", f"/api/channel/{cid}")
    assert (_reveal(api, cid), after["name"], after["models"]) == (key, "renamed", "a,b")
    # One API's editor sends the empty key it was given back: the key stays too
    api.ok(api.root, "PUT", "/api/channel/", json={**after, "name": "renamed"})
    assert _reveal(api, cid) == key
    api.ok(api.root, "PUT", "/api/channel/", json={"id": cid, "key": "sk-new-key"})
    assert _reveal(api, cid) == "sk-new-key"
    api.refused(
        api.root, "PUT", "/api/channel/", json={"id": cid, "model_mapping": "{not json"}
    )
    api.refused(api.root, "PUT", "/api/channel/", json={"id": cid, "config": "[1]"})
    api.refused(api.root, "PUT", "/api/channel/", json={"id": cid, "base_url": "ftp://x"})
    api.refused(api.root, "POST", "/api/channel/", json={"type": 99999, "key": "k"})
    api.refused(api.root, "POST", "/api/channel/", json={"type": 1, "key": " \n "})
    assert api.ok(api.root, "GET", f"/api/channel/{cid}")["name"] == "renamed"
    api.ok(api.root, "DELETE", f"/api/channel/{cid}")
    api.refused(api.root, "GET", f"/api/channel/{cid}")
    api.refused(api.root, "DELETE", f"/api/channel/{cid}")


def _reveal(api: Api, channel_id: int) -> str:
    return str(api.ok(api.root, "POST", f"/api/channel/{channel_id}/key")["key"])


def test_keys_are_write_only_but_for_roots_logged_reveal(api: Api) -> None:
    key = "sk-secret-" + unique("k") * 2
    cid = _channel(api, key=key)["id"]
    _, admin = api.user_client(10)
    assert api.ok(admin, "GET", f"/api/channel/{cid}")["key"] == ""
    assert key not in json.dumps(api.ok(admin, "GET", "/api/channel/", params={"page_size": 100}))
    assert api.ok(admin, "GET", "/api/channel/search", params={"keyword": key}) == []
    assert "permission denied" in api.refused(admin, "POST", f"/api/channel/{cid}/key")
    assert [c["id"] for c in api.ok(api.root, "GET", "/api/channel/search",
                                     params={"keyword": key})] == [cid]
    assert _reveal(api, cid) == key
    logs = api.ok(api.root, "GET", "/api/log/", params={"type": 3, "page_size": 100})
    assert any(f"revealed the key of channel {cid}" in row["content"] for row in logs)
    api.ok(api.root, "DELETE", f"/api/channel/{cid}")


def test_one_channel_per_key_line(api: Api) -> None:
    name = unique("m")
    created = api.ok(
        api.root,
        "POST",
        "/api/channel/",
        json={
            "type": 1,
            "name": name,
            "key": "key-one\nkey-two\n\n  key-three  \n",
            "base_url": CLOSED,
            "models": "m1",
        },
    )
    assert len(created) == 3
    keys = {_reveal(api, c["id"]) for c in created}
    assert keys == {"key-one", "key-two", "key-three"}
    for c in created:
        api.ok(api.root, "DELETE", f"/api/channel/{c['id']}")


def test_abilities_follow_channel_writes(api: Api) -> None:
    """available_models is read from the cache's channel table: it changes with each write."""
    user, client = api.user_client()
    group = unique("g")
    api.ok(api.root, "PUT", "/api/user/", json={"id": user["id"], "group": group})
    model = unique("model-")
    ch = _channel(api, models=model, group=group)
    assert api.ok(client, "GET", "/api/user/available_models") == [model]
    api.ok(api.root, "PUT", "/api/channel/", json={"id": ch["id"], "status": 2})
    assert api.ok(client, "GET", "/api/user/available_models") == []
    api.ok(
        api.root,
        "PUT",
        "/api/channel/",
        json={"id": ch["id"], "status": 1, "models": model + ",other-" + model},
    )
    assert sorted(api.ok(client, "GET", "/api/user/available_models")) == sorted(
        [model, "other-" + model]
    )
    api.ok(api.root, "DELETE", f"/api/channel/{ch['id']}")
    assert api.ok(client, "GET", "/api/user/available_models") == []


def test_delete_disabled_channels(api: Api) -> None:
    keep = _channel(api)
    manual = _channel(api, status=2)
    auto = _channel(api, status=3)
    count = api.ok(api.root, "DELETE", "/api/channel/disabled")
    assert count >= 2
    api.refused(api.root, "GET", f"/api/channel/{manual['id']}")
    api.refused(api.root, "GET", f"/api/channel/{auto['id']}")
    api.ok(api.root, "GET", f"/api/channel/{keep['id']}")
    api.ok(api.root, "DELETE", f"/api/channel/{keep['id']}")


def test_types_and_models(api: Api) -> None:
    types = api.ok(api.root, "GET", "/api/channel/types")
    openai = next(t for t in types if t["id"] == 1)
    assert openai["default_base_url"] and openai["default_models"]
    for t in types:
        assert set(t) == {"id", "name", "default_base_url", "default_models", "config_fields"}
        for f in t["config_fields"]:
            assert set(f) == {"key", "label", "label_zh", "type", "default", "required", "help"}
    by_type = api.ok(api.root, "GET", "/api/models")
    assert by_type["1"] == openai["default_models"]
    # One API's shape: OpenAI model objects (its channel editor maps over them by id)
    cards = api.ok(api.root, "GET", "/api/channel/models")
    assert isinstance(cards, list) and {c["id"] for c in cards} >= set(openai["default_models"])
    gpt = next(c for c in cards if c["id"] == openai["default_models"][0])
    assert gpt["object"] == "model" and gpt["owned_by"] == openai["name"].lower()


def test_channel_test_and_balance(api: Api, fake: FakeOpenAI) -> None:
    good = _channel(api, base_url=fake.base_url, key="sk-upstream-good-key-1234")
    bad = _channel(api, base_url=fake.base_url, key="sk-wrong-key-but-long-enough")
    down = _channel(api, base_url=CLOSED)
    status, body = api.call(
        api.root, "GET", f"/api/channel/test/{good['id']}", params={"model": "gpt-4o-mini"}
    )
    assert body["success"], body
    row = api.ok(api.root, "GET", f"/api/channel/{good['id']}")
    assert row["test_time"] >= int(time.time()) - 60
    _, body = api.call(api.root, "GET", f"/api/channel/test/{bad['id']}")
    assert body["success"] is False and body["message"]
    _, body = api.call(api.root, "GET", f"/api/channel/test/{down['id']}")
    assert body["success"] is False
    assert api.ok(api.root, "GET", "/api/log/", params={"type": 5, "page_size": 100})
    assert api.ok(api.root, "GET", f"/api/channel/update_balance/{good['id']}") == 75
    assert api.ok(api.root, "GET", f"/api/channel/{good['id']}")["balance"] == 75
    assert api.refused(api.root, "GET", f"/api/channel/update_balance/{bad['id']}")
    assert api.refused(api.root, "GET", f"/api/channel/update_balance/{down['id']}")
    results = {r["id"]: r for r in api.ok(api.root, "GET", "/api/channel/update_balance")}
    assert results[good["id"]]["success"] and not results[down["id"]]["success"]
    for c in (good, bad, down):
        api.ok(api.root, "DELETE", f"/api/channel/{c['id']}")


def test_test_all_runs_in_background(api: Api, fake: FakeOpenAI) -> None:
    ch = _channel(api, base_url=fake.base_url, key="sk-upstream-good-key-1234")
    before = api.ok(api.root, "GET", f"/api/channel/{ch['id']}")["test_time"]
    api.ok(api.root, "GET", "/api/channel/test")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if api.ok(api.root, "GET", f"/api/channel/{ch['id']}")["test_time"] > before:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the background test never reached the channel")
    api.refused(api.root, "GET", "/api/channel/test", params={"scope": "bogus"})
    api.ok(api.root, "DELETE", f"/api/channel/{ch['id']}")
