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

import http.client
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import gateway_env
from tests.gateway import ROOT, GatewayProcess

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
