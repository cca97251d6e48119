"""Run the real gateway as a subprocess on loopback, and talk to it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GatewayProcess:
    """``python -m oneapi`` with its own database, on a free loopback port."""

    def __init__(self, env: Mapping[str, str] | None = None, name: str = "gw", args: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.args = list(args)
        self.dir = Path(tempfile.mkdtemp(prefix=f"oneapi-{name}-"))
        self.env = {
            **os.environ,
            "SQLITE_PATH": str(self.dir / "one-api.db"),
            "SESSION_SECRET": "test-secret-" + uuid.uuid4().hex,
            "GLOBAL_API_RATE_LIMIT": "0",
            "CRITICAL_RATE_LIMIT": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / "gateway.log"

    def start(self, timeout: float = 30) -> GatewayProcess:
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "oneapi", "--port", str(self.port), "--host", "127.0.0.1", *self.args],
                env=self.env, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/api/status", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not answer within {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30, **kw)

    def login(self, username: str = "root", password: str = "123456") -> httpx.Client:
        """An HTTP client with a session cookie for this user."""
        client = self.client()
        r = client.post("/api/user/login", json={"username": username, "password": password})
        body = r.json()
        assert body["success"], body
        return client


def api(client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    """Call /api and return ``data``; fail the test with the message when success is false."""
    r = client.request(method, path, **kw)
    body = r.json()
    assert body.get("success"), f"{method} {path} -> {r.status_code} {body}"
    return body.get("data")
