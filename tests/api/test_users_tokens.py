"""CRUD of users (admin) and tokens (own only)."""

from __future__ import annotations

import time

from tests.api.conftest import PASSWORD, Api, unique


def test_user_crud(api: Api) -> None:
    root = api.root
    name = unique()
    created = api.ok(
        root,
        "POST",
        "/api/user/",
        json={"username": name, "password": PASSWORD, "display_name": "D"},
    )
    uid = created["id"]
    assert created["display_name"] == "D" and created["role"] == 1 and "password" not in created
    assert api.ok(root, "GET", f"/api/user/{uid}")["username"] == name
    found = api.ok(root, "GET", "/api/user/search", params={"keyword": name})
    assert [u["id"] for u in found] == [uid]
    by_id = api.ok(root, "GET", "/api/user/search", params={"keyword": str(uid)})
    assert uid in [u["id"] for u in by_id]
    updated = api.ok(
        root,
        "PUT",
        "/api/user/",
        json={"id": uid, "quota": 1234, "group": "vip", "display_name": "E"},
    )
    assert (updated["quota"], updated["group"], updated["display_name"]) == (1234, "vip", "E")
    api.ok(root, "PUT", "/api/user/", json={"id": uid, "password": "another-pass1"})
    api.login(name, "another-pass1")
    api.refused(root, "PUT", "/api/user/", json={"id": uid, "quota": -1})
    api.refused(root, "PUT", "/api/user/", json={"id": uid, "group": "a,b"})
    api.refused(root, "PUT", "/api/user/", json={"id": 2_000_000_000, "quota": 1})
    api.refused(root, "POST", "/api/user/", json={"username": name, "password": PASSWORD})
    api.ok(root, "DELETE", f"/api/user/{uid}")
    api.refused(root, "GET", f"/api/user/{uid}")
    assert api.ok(root, "GET", "/api/user/search", params={"keyword": name}) == []
    api.ok(
        root, "POST", "/api/user/", json={"username": name, "password": PASSWORD}
    )  # the name is free again


def test_manage_actions(api: Api) -> None:
    user = api.user()

    def manage(action: str) -> dict[str, int]:
        body = {"username": user["username"], "action": action}
        return dict(api.ok(api.root, "POST", "/api/user/manage", json=body))

    assert manage("promote")["role"] == 10
    assert "already" in api.refused(
        api.root, "POST", "/api/user/manage", json={"id": user["id"], "action": "promote"}
    )
    assert manage("demote")["role"] == 1
    assert manage("disable")["status"] == 2
    assert manage("enable")["status"] == 1
    manage("delete")
    api.refused(
        api.root, "POST", "/api/user/manage", json={"id": user["id"], "action": "enable"}
    )
    api.refused(
        api.root, "POST", "/api/user/manage", json={"id": user["id"], "action": "explode"}
    )
    api.refused(api.root, "POST", "/api/user/manage", json={"id": 1, "action": "disable"})


def test_user_list_order_and_total(api: Api) -> None:
    for quota in (5, 500):
        api.user(quota=quota)
    status, body = api.call(
        api.root, "GET", "/api/user/", params={"order": "quota", "page_size": 100}
    )
    quotas = [u["quota"] for u in body["data"]]
    assert quotas == sorted(quotas, reverse=True) and body["total"] >= 3


def test_admin_topup_writes_a_log(api: Api) -> None:
    user = api.user(quota=10)
    assert api.ok(
        api.root, "POST", "/api/topup", json={"user_id": user["id"], "quota": 90, "remark": "gift"}
    ) == {"quota": 100}
    assert (
        api.ok(api.root, "POST", "/api/topup", json={"user_id": user["id"], "quota": -40})["quota"]
        == 60
    )
    api.refused(api.root, "POST", "/api/topup", json={"user_id": user["id"], "quota": -61})
    api.refused(api.root, "POST", "/api/topup", json={"user_id": user["id"], "quota": 0})
    api.refused(api.root, "POST", "/api/topup", json={"user_id": 2_000_000_000, "quota": 1})
    logs = api.ok(api.root, "GET", "/api/log/", params={"username": user["username"], "type": 1})
    assert {log["quota"] for log in logs} == {90, -40} and any(
        "gift" in log["content"] for log in logs
    )


def test_token_crud(api: Api) -> None:
    user, client = api.user_client()
    body = {
        "name": "mine",
        "remain_quota": 500,
        "expired_time": -1,
        "models": ["gpt-4o", "gpt-4o-mini"],
        "subnet": "10.0.0.0/8, 127.0.0.1",
    }
    token = api.ok(client, "POST", "/api/token/", json=body)
    assert len(token["key"]) == 48 and token["key"].isalnum() and not token["key"].startswith("sk-")
    assert token["models"] == "gpt-4o,gpt-4o-mini" and token["subnet"] == "10.0.0.0/8,127.0.0.1"
    tid = token["id"]
    assert api.ok(client, "GET", f"/api/token/{tid}")["name"] == "mine"
    assert [
        t["id"] for t in api.ok(client, "GET", "/api/token/search", params={"keyword": "min"})
    ] == [tid]
    assert [
        t["id"]
        for t in api.ok(
            client, "GET", "/api/token/search", params={"keyword": "sk-" + token["key"]}
        )
    ] == [tid]
    changed = api.ok(
        client,
        "PUT",
        "/api/token/",
        json={"id": tid, "name": "renamed", "remain_quota": 7, "unlimited_quota": True},
    )
    assert (changed["name"], changed["remain_quota"], changed["unlimited_quota"]) == (
        "renamed",
        7,
        True,
    )
    assert (
        api.ok(
            client,
            "PUT",
            "/api/token/",
            params={"status_only": 1},
            json={"id": tid, "status": 2, "name": "ignored"},
        )["name"]
        == "renamed"
    )
    assert api.ok(client, "GET", f"/api/token/{tid}")["status"] == 2
    api.refused(client, "POST", "/api/token/", json={"name": "x" * 31})
    api.refused(client, "POST", "/api/token/", json={"name": "n", "subnet": "not-a-net"})
    api.refused(client, "POST", "/api/token/", json={"name": "n", "remain_quota": -5})
    api.ok(client, "DELETE", f"/api/token/{tid}")
    api.refused(client, "GET", f"/api/token/{tid}")


def test_token_enable_checks(api: Api) -> None:
    _, client = api.user_client()
    past = int(time.time()) - 10
    token = api.ok(
        client, "POST", "/api/token/", json={"name": "old", "expired_time": past, "remain_quota": 5}
    )
    api.ok(
        client,
        "PUT",
        "/api/token/",
        params={"status_only": 1},
        json={"id": token["id"], "status": 2},
    )
    assert "expired" in api.refused(
        client,
        "PUT",
        "/api/token/",
        params={"status_only": 1},
        json={"id": token["id"], "status": 1},
    )
    empty = api.ok(client, "POST", "/api/token/", json={"name": "empty", "remain_quota": 0})
    api.ok(
        client,
        "PUT",
        "/api/token/",
        params={"status_only": 1},
        json={"id": empty["id"], "status": 2},
    )
    assert "used up" in api.refused(
        client,
        "PUT",
        "/api/token/",
        params={"status_only": 1},
        json={"id": empty["id"], "status": 1},
    )


def test_users_never_see_each_others_tokens(api: Api) -> None:
    _, alice = api.user_client()
    _, bob = api.user_client()
    secret = api.ok(alice, "POST", "/api/token/", json={"name": "alice-t", "remain_quota": 9})
    assert all(
        t["id"] != secret["id"]
        for t in api.ok(bob, "GET", "/api/token/", params={"page_size": 100})
    )
    assert api.ok(bob, "GET", "/api/token/search", params={"keyword": secret["key"]}) == []
    assert api.ok(bob, "GET", "/api/token/search", params={"keyword": "alice"}) == []
    api.refused(bob, "GET", f"/api/token/{secret['id']}")
    api.refused(bob, "PUT", "/api/token/", json={"id": secret["id"], "name": "stolen"})
    api.refused(
        bob,
        "PUT",
        "/api/token/",
        params={"status_only": 1},
        json={"id": secret["id"], "status": 2},
    )
    api.refused(bob, "DELETE", f"/api/token/{secret['id']}")
    api.refused(api.root, "GET", f"/api/token/{secret['id']}")  # not even root
    after = api.ok(alice, "GET", f"/api/token/{secret['id']}")
    assert (after["name"], after["status"]) == ("alice-t", 1)


def test_token_writes_reach_the_relay_at_once(api: Api) -> None:
    """The cache is invalidated: a disabled or deleted token stops working immediately."""
    _, client = api.user_client(quota=1000)
    token = api.ok(client, "POST", "/api/token/", json={"name": "r", "unlimited_quota": True})
    relay = api.client(headers={"Authorization": "Bearer sk-" + token["key"]})
    assert relay.get("/v1/models").status_code == 200
    api.ok(
        client,
        "PUT",
        "/api/token/",
        params={"status_only": 1},
        json={"id": token["id"], "status": 2},
    )
    assert relay.get("/v1/models").status_code == 401
    api.ok(
        client,
        "PUT",
        "/api/token/",
        params={"status_only": 1},
        json={"id": token["id"], "status": 1},
    )
    assert relay.get("/v1/models").status_code == 200
    api.ok(client, "DELETE", f"/api/token/{token['id']}")
    assert relay.get("/v1/models").status_code == 401
