"""Issue 18: the web UI's security headers, the SPA fallback and secrets at rest, against a
real gateway process over HTTP (the UI in a real browser under its CSP: tests/ui/test_csp.py).

1. Headers: pages carry a CSP (no inline scripts, no framing), X-Frame-Options and nosniff;
   /api JSON carries nosniff and ``frame-ancestors 'none'``.
2. SPA fallback: no path ever resolves outside oneapi/static; a traversal answers exactly as
   the same traversal to a file that does not exist (encoded in every usual way).
3. Secrets at rest: with CRYPTO_SECRET, channel keys and secret options are stored encrypted
   (raw SQL sees ``enc:v1:...``) and still used (relay, EPay signature); One API's plaintext
   rows keep working and are encrypted when next written; a wrong secret stops start-up
   with a clear message; the SQLite file and its -wal/-shm are 0600.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import gateway_env
from tests.fakes.epay_upstream import epay_sign
from tests.fakes.openai_upstream import FakeOpenAI
from tests.gateway import ROOT, GatewayProcess, api

STATIC = ROOT / "oneapi" / "static"


def _raw_get(gw: GatewayProcess, target: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``target`` sent byte for byte as given (httpx and browsers normalise dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    try:
        conn.putrequest("GET", target, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def web() -> Iterator[GatewayProcess]:
    """A gateway of this module's web tests (no page-load limit: they load many pages)."""
    gw = GatewayProcess(gateway_env(GLOBAL_WEB_RATE_LIMIT="0"), name="secweb").start()
    yield gw
    gw.stop()


def _built() -> None:
    if not (STATIC / "index.html").exists() or not list((STATIC / "assets").glob("*.js")):
        pytest.fail("the web UI is not built (oneapi/static): run `make frontend`")


# ---------------------------------------------------------------------------------------
# 1. headers


def _csp(value: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def test_pages_carry_csp_frame_and_nosniff_headers(web: GatewayProcess) -> None:
    _built()
    asset = sorted((STATIC / "assets").glob("index-*.js"))[0].name
    for path in ("/", "/login", "/channel", "/no/such/page", f"/assets/{asset}", "/logo.svg"):
        status, headers, _ = _raw_get(web, path)
        assert status == 200, path
        assert headers.get("x-content-type-options") == "nosniff", (path, headers)
        assert headers.get("x-frame-options") == "DENY", (path, headers)
        assert "content-security-policy" in headers, (path, headers)
        csp = _csp(headers["content-security-policy"])
        assert csp.get("frame-ancestors") == ["'none'"], csp
        assert "'self'" in csp["default-src"], csp
        scripts = csp.get("script-src", csp["default-src"])
        assert "'self'" in scripts and "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, csp
        assert csp.get("object-src") == ["'none'"] and csp.get("base-uri") == ["'self'"], csp
    # the built document has no inline script the CSP would block
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> in index.html"


def test_api_json_carries_nosniff_and_no_framing(web: GatewayProcess) -> None:
    for path in ("/api/status", "/api/user/self", "/api/no-such-route"):
        r = httpx.get(web.base_url + path)
        assert r.headers.get("x-content-type-options") == "nosniff", (path, r.headers)
        assert r.headers.get("content-security-policy") == "frame-ancestors 'none'", (path, r.headers)
        assert r.headers.get("x-frame-options") == "DENY", (path, r.headers)


# ---------------------------------------------------------------------------------------
# 2. SPA fallback

# From oneapi/static: a file that exists one level up (oneapi/web.py), and /etc/passwd far up.
_NEAR = ("..", "web.py"), ("..", "no-such-module.py")
_FAR = (("..",) * 12 + ("etc", "passwd")), (("..",) * 12 + ("etc", "no-such-file"))


def _variants(parts: tuple[str, ...]) -> dict[str, str]:
    """The same traversal written in the usual encodings."""
    dots = lambda sep, dot: sep.join(dot if p == ".." else p for p in parts)  # noqa: E731
    return {
        "encoded dots": "/" + dots("/", "%2e%2e"),
        "encoded slashes": "/" + dots("%2f", ".."),
        "all encoded": "/" + dots("%2F", "%2E%2E"),
        "mixed": "/" + dots("/", ".%2e"),
        "backslashes": "/" + dots("%5c", ".."),
        "double encoded": "/" + dots("/", "%252e%252e"),
        "under assets": "/assets/" + dots("/", "%2e%2e"),
        "under assets, encoded slashes": "/assets/%2e%2e%2f" + dots("%2f", "%2e%2e"),
        "plain dots": "/" + dots("/", ".."),
    }


@pytest.mark.parametrize("pair", [_NEAR, _FAR], ids=["oneapi-web.py", "etc-passwd"])
def test_traversal_answers_like_a_missing_file(web: GatewayProcess, pair: tuple[tuple[str, ...], ...]) -> None:
    _built()
    there, missing = pair
    index = (STATIC / "index.html").read_bytes()
    for name, target in _variants(there).items():
        ghost = _variants(missing)[name]
        status, headers, body = _raw_get(web, target)
        ghost_status, _, ghost_body = _raw_get(web, ghost)
        assert status < 500, (name, target, status)
        assert b"root:" not in body and b"web_blueprint" not in body, (name, target, body[:200])
        assert (status, body) == (ghost_status, ghost_body), (
            f"{name}: {target} -> {status}, but {ghost} -> {ghost_status}")
        if name.startswith("under assets"):
            assert status == 404, (name, target, status)
        elif status == 200:
            assert body == index and headers["content-type"].startswith("text/html"), (name, target)


def test_spa_fallback_pages_and_assets(web: GatewayProcess) -> None:
    _built()
    index = (STATIC / "index.html").read_bytes()
    for page in ("/", "/login", "/channel", "/a/b/c", "/web.py", "/%2e%2e", "/x%00y"):
        status, headers, body = _raw_get(web, page)
        assert (status, body) == (200, index), (page, status, body[:100])
        assert headers["content-type"].startswith("text/html")
    asset = sorted((STATIC / "assets").glob("*.js"))[0]
    status, headers, body = _raw_get(web, f"/assets/{asset.name}")
    assert (status, body) == (200, asset.read_bytes())
    assert "javascript" in headers["content-type"]
    for missing in ("/assets/no-such-chunk.js", "/assets/a/b.css", "/assets/", "/assets/x%00.js"):
        status, _, body = _raw_get(web, missing)
        assert status == 404 and body != index, (missing, status)
    status, _, body = _raw_get(web, "/logo.svg")
    assert (status, body) == (200, (STATIC / "logo.svg").read_bytes())


# ---------------------------------------------------------------------------------------
# 3. secrets at rest

SECRET = "test-crypto-secret-0123456789"
UPSTREAM_KEY = "sk-upstream-real-key-0123456789abcdef"

SECRET_OPTIONS = {
    "SMTPToken": "smtp-password-xyz",
    "GitHubClientSecret": "gh-client-secret-xyz",
    "TurnstileSecretKey": "turnstile-secret-xyz",
    "EpayKey": "epay-key-xyz-0123456789",
}


def _db(gw: GatewayProcess) -> Path:
    return Path(gw.env["SQLITE_PATH"])


def _rows(gw: GatewayProcess, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(_db(gw))) as conn:
        return conn.execute(sql, args).fetchall()


def _channel(gw: GatewayProcess, root: httpx.Client, upstream: FakeOpenAI, key: str, name: str) -> int:
    api(root, "POST", "/api/channel/", json={
        "type": 1, "name": name, "key": key, "base_url": upstream.base_url,
        "models": "sec-model", "group": "default"})
    return int(api(root, "GET", "/api/channel/search", params={"keyword": name})[0]["id"])


def _relay(gw: GatewayProcess, root: httpx.Client, name: str) -> httpx.Response:
    """A chat request through a fresh token of root's."""
    api(root, "POST", "/api/token/", json={"name": name, "remain_quota": 0, "unlimited_quota": True,
                                           "expired_time": -1})
    key = api(root, "GET", "/api/token/search", params={"keyword": name})[0]["key"]
    return httpx.post(gw.base_url + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer sk-{key.removeprefix('sk-')}"},
                      json={"model": "sec-model", "messages": [{"role": "user", "content": "hi"}]})


def _pay_sign_ok(gw: GatewayProcess, root: httpx.Client, key: str) -> None:
    """The EPay plugin signs an order with the EpayKey it read through the options."""
    r = root.post("/api/user/pay", json={"amount": 5, "payment_method": "alipay"})
    body = r.json()
    assert body.get("success"), body
    assert body["data"]["sign"] == epay_sign(body["data"], key), "signed with another key"


def _set_options(root: httpx.Client) -> None:
    for k, v in {**SECRET_OPTIONS, "PayAddress": "http://127.0.0.1:9", "EpayId": "1001",
                 "Price": "7.3", "MinTopUp": "1", "ModelRatio": '{"sec-model": 1}'}.items():
        api(root, "PUT", "/api/option/", json={"key": k, "value": v})


@pytest.fixture
def upstream_keyed(fake_openai: FakeOpenAI) -> Iterator[FakeOpenAI]:
    fake_openai.reset()
    fake_openai.expected_key = UPSTREAM_KEY
    yield fake_openai
    fake_openai.reset()


def test_secrets_are_encrypted_at_rest_and_still_used(upstream_keyed: FakeOpenAI) -> None:
    gw = GatewayProcess(gateway_env(CRYPTO_SECRET=SECRET), name="crypt").start()
    try:
        root = gw.login()
        cid = _channel(gw, root, upstream_keyed, UPSTREAM_KEY, "enc-ch")
        _set_options(root)
        # raw SQL: no secret in plaintext anywhere in the tables that hold them
        (stored,) = _rows(gw, "SELECT key FROM channels WHERE id = ?", cid)[0]
        assert stored.startswith("enc:v1:") and UPSTREAM_KEY not in stored, stored
        options = dict(_rows(gw, "SELECT key, value FROM options"))
        for k, v in SECRET_OPTIONS.items():
            assert options[k].startswith("enc:v1:") and v not in options[k], (k, options[k])
        assert options["EpayId"] == "1001"  # not a secret: as One API stores it
        dump = "\n".join(sqlite3.connect(_db(gw)).iterdump())
        for plain in [UPSTREAM_KEY, *SECRET_OPTIONS.values()]:
            assert plain not in dump, plain
        # used where they are used
        r = _relay(gw, root, "enc-t")
        assert r.status_code == 200, r.text
        assert upstream_keyed.requests[-1].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
        assert api(root, "POST", f"/api/channel/{cid}/key")["key"] == UPSTREAM_KEY
        masked = api(root, "GET", "/api/channel/", params={"page_size": 100})[0]["key"]
        assert masked.startswith("sk-") and masked.endswith(UPSTREAM_KEY[-4:]), masked
        assert [c["id"] for c in api(root, "GET", "/api/channel/search",
                                     params={"keyword": UPSTREAM_KEY})] == [cid]  # root's search by key
        _pay_sign_ok(gw, root, SECRET_OPTIONS["EpayKey"])
        root.close()
        # after a restart, read back from the database
        gw.stop()
        gw.start()
        root = gw.login()
        assert _relay(gw, root, "enc-t2").status_code == 200
        _pay_sign_ok(gw, root, SECRET_OPTIONS["EpayKey"])
        root.close()
    finally:
        gw.stop()


def test_plaintext_rows_keep_working_and_are_encrypted_when_written(upstream_keyed: FakeOpenAI) -> None:
    gw = GatewayProcess(gateway_env(), name="plain").start()
    try:
        root = gw.login()
        cid = _channel(gw, root, upstream_keyed, UPSTREAM_KEY, "plain-ch")
        _set_options(root)
        root.close()
        gw.stop()
        # as One API left them: plaintext
        assert _rows(gw, "SELECT key FROM channels WHERE id = ?", cid)[0][0] == UPSTREAM_KEY
        assert dict(_rows(gw, "SELECT key, value FROM options"))["EpayKey"] == SECRET_OPTIONS["EpayKey"]
        assert "CRYPTO_SECRET is not set" in gw.log()
        assert gw.log().count("CRYPTO_SECRET is not set") == 1

        gw.env["CRYPTO_SECRET"] = SECRET
        gw.start()
        root = gw.login()
        assert _relay(gw, root, "plain-t").status_code == 200  # a plaintext row still relays
        _pay_sign_ok(gw, root, SECRET_OPTIONS["EpayKey"])
        assert _rows(gw, "SELECT key FROM channels WHERE id = ?", cid)[0][0] == UPSTREAM_KEY
        # written again: now encrypted
        api(root, "PUT", "/api/channel/", json={"id": cid, "name": "plain-ch2"})
        api(root, "PUT", "/api/option/", json={"key": "EpayKey", "value": SECRET_OPTIONS["EpayKey"]})
        assert _rows(gw, "SELECT key FROM channels WHERE id = ?", cid)[0][0].startswith("enc:v1:")
        assert dict(_rows(gw, "SELECT key, value FROM options"))["EpayKey"].startswith("enc:v1:")
        assert _relay(gw, root, "plain-t2").status_code == 200
        _pay_sign_ok(gw, root, SECRET_OPTIONS["EpayKey"])
        root.close()
    finally:
        gw.stop()


def _start_fails(gw: GatewayProcess) -> str:
    """Start ``gw``, which must exit by itself: its log."""
    done = subprocess.run(
        [sys.executable, "-m", "oneapi", "--port", str(gw.port), "--host", "127.0.0.1"],
        env=gw.env, cwd=gw.dir, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_wrong_or_missing_secret_stops_start_up_clearly(upstream_keyed: FakeOpenAI) -> None:
    gw = GatewayProcess(gateway_env(CRYPTO_SECRET=SECRET), name="wrong").start()
    try:
        root = gw.login()
        _channel(gw, root, upstream_keyed, UPSTREAM_KEY, "wrong-ch")
        root.close()
    finally:
        gw.stop()
    gw.env["CRYPTO_SECRET"] = "another-secret-entirely"
    out = _start_fails(gw)
    assert "CRYPTO_SECRET" in out and "channel" in out and "decrypt" in out, out
    assert UPSTREAM_KEY not in out
    del gw.env["CRYPTO_SECRET"]
    out = _start_fails(gw)
    assert "CRYPTO_SECRET" in out and "not set" in out, out
    gw.env["CRYPTO_SECRET"] = SECRET  # the right one again: starts
    gw.start()
    gw.stop()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_sqlite_files_are_private(upstream_keyed: FakeOpenAI) -> None:
    gw = GatewayProcess(gateway_env(), name="mode")
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        gw.start()
    finally:
        os.umask(old)
    try:
        root = gw.login()
        _channel(gw, root, upstream_keyed, UPSTREAM_KEY, "mode-ch")  # writes: -wal and -shm exist
        db = _db(gw)
        deadline = time.monotonic() + 5
        while not (Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()):
            assert time.monotonic() < deadline, "no -wal/-shm file"
            time.sleep(0.05)
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            assert _mode(path) == 0o600, f"{path.name}: {oct(_mode(path))}"
        root.close()
    finally:
        gw.stop()
    # a database file left 0644 by an older version is made private at the next start
    os.chmod(_db(gw), 0o644)
    gw.start()
    gw.stop()
    assert _mode(_db(gw)) == 0o600


def test_secret_options_are_never_listed(upstream_keyed: FakeOpenAI) -> None:
    gw = GatewayProcess(gateway_env(CRYPTO_SECRET=SECRET), name="list").start()
    try:
        root = gw.login()
        _set_options(root)
        listed = {o["key"]: o["value"] for o in api(root, "GET", "/api/option/")}
        for k in SECRET_OPTIONS:
            assert listed.get(k, "") == "", (k, listed.get(k))
        assert json.dumps(listed).count("enc:v1:") == 0
        root.close()
    finally:
        gw.stop()
