"""Login, sessions, access tokens, registration, the own account."""

from __future__ import annotations

from tests.api.conftest import PASSWORD, Api, unique


def test_login_logout_and_self(api: Api) -> None:
    user, client = api.user_client()
    me = api.ok(client, "GET", "/api/user/self")
    assert me["username"] == user["username"] and "password" not in me and "access_token" not in me
    api.ok(client, "GET", "/api/user/logout")
    api.refused(client, "GET", "/api/user/self", 401)


def test_wrong_password_and_unknown_user(api: Api) -> None:
    user = api.user()
    anon = api.client()
    api.refused(
        anon,
        "POST",
        "/api/user/login",
        json={"username": user["username"], "password": "nope-nope"},
    )
    api.refused(
        anon, "POST", "/api/user/login", json={"username": "nobody-x", "password": "whatever1"}
    )
    api.refused(anon, "POST", "/api/user/login", json={"username": "", "password": ""})


def test_root_password_unchanged_flag(api: Api) -> None:
    me = api.ok(api.root, "GET", "/api/user/self")
    assert me["root_password_unchanged"] is True
    assert api.ok(api.client(), "GET", "/api/status")["root_password_unchanged"] is True
    plain = api.ok(api.user_client()[1], "GET", "/api/user/self")
    assert "root_password_unchanged" not in plain


def test_access_token_header(api: Api) -> None:
    _, client = api.user_client()
    token = api.ok(client, "GET", "/api/user/token")
    assert isinstance(token, str) and len(token) == 32
    script = api.client()
    assert api.ok(script, "GET", "/api/user/self", headers={"Authorization": f"Bearer {token}"})
    assert api.ok(script, "GET", "/api/user/self", headers={"Authorization": token})
    api.refused(script, "GET", "/api/user/self", headers={"Authorization": "Bearer wrong"})
    newer = api.ok(client, "GET", "/api/user/token")
    api.refused(script, "GET", "/api/user/self", headers={"Authorization": token})
    assert api.ok(script, "GET", "/api/user/self", headers={"Authorization": newer})


def test_disabled_user_is_rejected_everywhere(api: Api) -> None:
    user, client = api.user_client()
    api.ok(api.root, "POST", "/api/user/manage", json={"id": user["id"], "action": "disable"})
    api.refused(client, "GET", "/api/user/self")
    api.refused(client, "GET", "/api/token/")
    api.refused(
        api.client(),
        "POST",
        "/api/user/login",
        json={"username": user["username"], "password": PASSWORD},
    )
    api.ok(api.root, "POST", "/api/user/manage", json={"id": user["id"], "action": "enable"})
    assert api.ok(client, "GET", "/api/user/self")["status"] == 1


def test_update_self_and_password_ends_other_sessions(api: Api) -> None:
    user, client = api.user_client()
    other_session = api.login(user["username"])
    api.ok(client, "PUT", "/api/user/self", json={"display_name": "Shown"})
    assert api.ok(client, "GET", "/api/user/self")["display_name"] == "Shown"
    api.refused(client, "PUT", "/api/user/self", json={"password": "short"})
    api.refused(
        client,
        "PUT",
        "/api/user/self",
        json={"password": "newpassword1", "original_password": "wrong-one"},
    )
    api.ok(
        client,
        "PUT",
        "/api/user/self",
        json={"password": "newpassword1", "original_password": PASSWORD},
    )
    assert api.ok(client, "GET", "/api/user/self")["id"] == user["id"]  # this session goes on
    api.refused(other_session, "GET", "/api/user/self", 401)  # the other one ended
    api.login(user["username"], "newpassword1")
    taken = api.user()["username"]
    assert "taken" in api.refused(client, "PUT", "/api/user/self", json={"username": taken})


def test_delete_self(api: Api) -> None:
    user, client = api.user_client()
    api.ok(client, "DELETE", "/api/user/self")
    api.refused(
        api.client(),
        "POST",
        "/api/user/login",
        json={"username": user["username"], "password": PASSWORD},
    )
    api.refused(api.root, "GET", f"/api/user/{user['id']}")
    api.refused(api.root, "DELETE", "/api/user/self")  # root stays


def test_register_with_invitation(api: Api) -> None:
    api.option("QuotaForNewUser", "100")
    api.option("QuotaForInviter", "30")
    api.option("QuotaForInvitee", "7")
    try:
        inviter, inviter_client = api.user_client()
        code = api.ok(inviter_client, "GET", "/api/user/aff")
        assert code and api.ok(inviter_client, "GET", "/api/user/aff") == code
        name = unique("r")
        anon = api.client()
        api.ok(
            anon,
            "POST",
            "/api/user/register",
            json={"username": name, "password": PASSWORD, "aff_code": code},
        )
        client = api.login(name)
        me = api.ok(client, "GET", "/api/user/self")
        assert me["quota"] == 107 and me["inviter_id"] == inviter["id"]
        assert api.ok(inviter_client, "GET", "/api/user/self")["quota"] == 100 + 30
        tokens = api.ok(client, "GET", "/api/token/")
        assert [t["name"] for t in tokens] == ["default"] and tokens[0]["unlimited_quota"] is True
        assert "taken" in api.refused(
            anon, "POST", "/api/user/register", json={"username": name, "password": PASSWORD}
        )
    finally:
        for key in ("QuotaForNewUser", "QuotaForInviter", "QuotaForInvitee"):
            api.option(key, "0")


def test_register_validation_and_switches(api: Api) -> None:
    anon = api.client()
    api.refused(
        anon, "POST", "/api/user/register", json={"username": "x" * 13, "password": PASSWORD}
    )
    api.refused(
        anon, "POST", "/api/user/register", json={"username": unique(), "password": "short"}
    )
    api.refused(
        anon, "POST", "/api/user/register", json={"username": unique(), "password": "p" * 21}
    )
    api.option("RegisterEnabled", "false")
    try:
        assert "closed" in api.refused(
            anon,
            "POST",
            "/api/user/register",
            json={"username": unique(), "password": PASSWORD},
        )
    finally:
        api.option("RegisterEnabled", "true")
    api.option("PasswordRegisterEnabled", "false")
    try:
        api.refused(
            anon,
            "POST",
            "/api/user/register",
            json={"username": unique(), "password": PASSWORD},
        )
    finally:
        api.option("PasswordRegisterEnabled", "true")
    api.option("PasswordLoginEnabled", "false")
    try:
        api.refused(
            anon, "POST", "/api/user/login", json={"username": "root", "password": "123456"}
        )
    finally:
        api.option("PasswordLoginEnabled", "true")


def test_available_models_and_groups(api: Api) -> None:
    _, client = api.user_client()
    assert isinstance(api.ok(client, "GET", "/api/user/available_models"), list)
    by_type = api.ok(client, "GET", "/api/models")
    assert "1" in by_type and isinstance(by_type["1"], list)
    assert "default" in api.ok(api.root, "GET", "/api/group/")
