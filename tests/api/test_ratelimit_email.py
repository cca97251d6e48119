"""Rate limits (own gateway with tiny limits) and email codes through a fake SMTP server."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from email import message_from_bytes

import pytest

from tests.api.conftest import PASSWORD, Api, unique
from tests.gateway import GatewayProcess


def test_rate_limits() -> None:
    proc = GatewayProcess(
        {"GLOBAL_API_RATE_LIMIT": "12", "CRITICAL_RATE_LIMIT": "3"}, name="ratelimit"
    ).start()
    try:
        client = proc.client()
        for _ in range(3):
            r = client.post("/api/user/login", json={"username": "root", "password": "wrong-pass"})
            assert r.status_code == 200 and not r.json()["success"]
        r = client.post("/api/user/login", json={"username": "root", "password": "123456"})
        assert r.status_code == 429 and "20 minutes" in r.json()["message"]
        codes = [client.get("/api/notice").status_code for _ in range(12)]
        assert codes[-1] == 429 and 200 in codes
        assert "3 minutes" in client.get("/api/status").json()["message"]
    finally:
        proc.stop()


class FakeSMTP:
    """Just enough SMTP on 127.0.0.1 to receive mail from smtplib (no TLS, no auth)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._session, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 fake ESMTP\r\n")
        while line := await reader.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"EHLO":
                writer.write(b"250-fake\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go on\r\n")
                await writer.drain()
                data = b""
                while (chunk := await reader.readline()) != b".\r\n":
                    data += chunk
                self.messages.append(data)
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    def __enter__(self) -> FakeSMTP:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    def last_text(self) -> str:
        message = message_from_bytes(self.messages[-1])
        return str(message.get_payload(decode=True).decode())


@pytest.fixture(scope="module")
def smtp(api: Api) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        api.option("SMTPServer", "127.0.0.1")
        api.option("SMTPPort", str(server.port))
        api.option("SMTPFrom", "gateway@example.com")
        yield server
        api.option("SMTPServer", "")


def test_email_verification_register_and_reset(api: Api, smtp: FakeSMTP) -> None:
    anon = api.client()
    email = f"{unique('e')}@example.com"
    api.refused(anon, "GET", "/api/verification", params={"email": "not-an-address"})
    api.ok(anon, "GET", "/api/verification", params={"email": email})
    code = re.search(r"code is (\w+)", smtp.last_text()).group(1)  # type: ignore[union-attr]
    api.option("EmailVerificationEnabled", "true")
    try:
        name = unique("v")
        api.refused(
            anon, "POST", "/api/user/register", json={"username": name, "password": PASSWORD}
        )
        api.refused(
            anon,
            "POST",
            "/api/user/register",
            json={
                "username": name,
                "password": PASSWORD,
                "email": email,
                "verification_code": "wrong",
            },
        )
        api.ok(
            anon,
            "POST",
            "/api/user/register",
            json={
                "username": name,
                "password": PASSWORD,
                "email": email,
                "verification_code": code,
            },
        )
    finally:
        api.option("EmailVerificationEnabled", "false")
    client = api.login(name)
    assert api.ok(client, "GET", "/api/user/self")["email"] == email
    api.refused(anon, "GET", "/api/verification", params={"email": email})  # in use now
    api.option("ServerAddress", "https://gateway.example")
    try:
        api.ok(anon, "GET", "/api/reset_password", params={"email": email})
    finally:
        api.option("ServerAddress", "")
    link = re.search(r"\S+/user/reset\?\S+", smtp.last_text()).group(0)  # type: ignore[union-attr]
    assert link.startswith("https://gateway.example/user/reset?")
    token = link.split("token=")[1]
    api.refused(anon, "POST", "/api/user/reset", json={"email": email, "token": "bad"})
    password = api.ok(anon, "POST", "/api/user/reset", json={"email": email, "token": token})
    api.login(name, password)
    api.refused(
        anon, "POST", "/api/user/reset", json={"email": email, "token": token}
    )  # used up


def test_reset_links_never_come_from_the_host_header(api: Api, smtp: FakeSMTP) -> None:
    """A poisoned Host would have mailed the victim a link to the attacker's site, whose
    token then resets the victim's password."""
    name = unique("h")
    email = f"{name}@example.com"
    user = api.ok(api.root, "POST", "/api/user/", json={"username": name, "password": PASSWORD})
    api.ok(api.root, "PUT", "/api/user/", json={"id": user["id"], "email": email})
    attacker = api.client(headers={"Host": "attacker.example"})
    sent = len(smtp.messages)
    message = api.refused(attacker, "GET", "/api/reset_password", params={"email": email})
    assert "ServerAddress" in message and len(smtp.messages) == sent  # nothing mailed
    api.option("ServerAddress", "https://gateway.example/")
    try:
        api.ok(attacker, "GET", "/api/reset_password", params={"email": email})
    finally:
        api.option("ServerAddress", "")
    text = smtp.last_text()
    assert "attacker.example" not in text and "https://gateway.example/user/reset?" in text


def test_email_codes_allow_a_few_guesses_then_expire(api: Api, smtp: FakeSMTP) -> None:
    _, client = api.user_client()
    email = f"{unique('g')}@example.com"
    api.ok(api.client(), "GET", "/api/verification", params={"email": email})
    code = re.search(r"code is (\w+)", smtp.last_text()).group(1)  # type: ignore[union-attr]
    for _ in range(5):
        api.refused(client, "GET", "/api/oauth/email/bind", params={"email": email, "code": "nope"})
    api.refused(client, "GET", "/api/oauth/email/bind", params={"email": email, "code": code})


def test_email_bind(api: Api, smtp: FakeSMTP) -> None:
    _, client = api.user_client()
    email = f"{unique('b')}@example.com"
    api.ok(api.client(), "GET", "/api/verification", params={"email": email})
    code = re.search(r"code is (\w+)", smtp.last_text()).group(1)  # type: ignore[union-attr]
    api.refused(
        client, "GET", "/api/oauth/email/bind", params={"email": email, "code": "nope"}
    )
    api.ok(client, "GET", "/api/oauth/email/bind", params={"email": email, "code": code})
    assert api.ok(client, "GET", "/api/user/self")["email"] == email


def test_email_domain_restriction(api: Api, smtp: FakeSMTP) -> None:
    api.option("EmailDomainWhitelist", "allowed.org")
    api.option("EmailDomainRestrictionEnabled", "true")
    try:
        api.refused(
            api.client(), "GET", "/api/verification", params={"email": "a@example.com"}
        )
        api.ok(
            api.client(), "GET", "/api/verification", params={"email": f"{unique('d')}@allowed.org"}
        )
    finally:
        api.option("EmailDomainRestrictionEnabled", "false")
