"""The systems under test: the fake upstream, the gateway (set up as a user would), LiteLLM's proxy."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .procs import ROOT, Proc, free_port, wait_until

BENCH = Path(__file__).resolve().parent
MODEL = "bench-model"
PASSWORD = "bench-password-1"


@dataclass
class Target:
    """Where the load goes: a base URL, the Authorization header, and the process to watch."""

    name: str
    base_url: str
    auth: str = ""
    proc: Proc | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1/chat/completions"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


class FakeUpstream:
    """The fake OpenAI upstream process (bench.fake_upstream)."""

    def __init__(self, workdir: Path, pin: set[int] | None, delay_ms: float, chunks: int,
                 interval_ms: float) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "bench.fake_upstream", "--port", str(self.port),
                "--delay-ms", str(delay_ms), "--chunks", str(chunks), "--interval-ms", str(interval_ms)]
        self.defaults = {"delay_ms": delay_ms, "chunks": chunks, "interval_ms": interval_ms, "stall_s": 0.0}
        self.proc = Proc("fake upstream", argv, cwd=ROOT, pin=pin, log=workdir / "fake.log")
        wait_until(lambda: httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200,
                   15, "fake upstream", self.proc)

    def configure(self, **changes: Any) -> None:
        """Change the fake's behaviour (e.g. ``stall_s``); no arguments restore the defaults."""
        body = {**self.defaults, **changes}
        httpx.post(f"{self.base_url}/_bench/config", json=body, timeout=5).raise_for_status()

    def target(self) -> Target:
        return Target("direct", self.base_url, "Bearer sk-x", self.proc)


def _api(client: httpx.Client, method: str, path: str, **kw: Any) -> Any:
    r = client.request(method, path, **kw)
    try:
        body = r.json()
    except ValueError:
        raise RuntimeError(f"{method} {path} -> {r.status_code}: {r.text[:300]}") from None
    if not body.get("success"):
        raise RuntimeError(f"{method} {path} -> {r.status_code} {body}")
    return body.get("data")


class Gateway:
    """``python -m oneapi`` on the work folder's SQLite database (shared by every gateway started there).

    ``provision`` gives it a channel to the fake and a normal user's token.
    """

    def __init__(self, workdir: Path, pin: set[int] | None, db_stats: bool = True,
                 extra_env: dict[str, str] | None = None, workers: int = 1, name: str = "gateway") -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.key = ""
        self.stats_file = workdir / f"dbstats-{name}.json" if db_stats else None
        env = {**os.environ, "SQLITE_PATH": str(workdir / "one-api.db"), "SESSION_SECRET": "x",
               "GLOBAL_API_RATE_LIMIT": "0", "CRITICAL_RATE_LIMIT": "0", "PYTHONUNBUFFERED": "1"}
        if self.stats_file is not None:
            paths = [str(BENCH / "dbstats"), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
            env["BENCH_DB_STATS_FILE"] = str(self.stats_file)
        env.update(extra_env or {})
        argv = [sys.executable, "-m", "oneapi", "--port", str(self.port), "--host", "127.0.0.1"]
        if workers > 1:
            argv += ["--workers", str(workers)]
        self.proc = Proc(name, argv, env=env, cwd=workdir, pin=pin, log=workdir / f"{name}.log")
        wait_until(lambda: httpx.get(f"{self.base_url}/api/status", timeout=1).status_code == 200,
                   60, "gateway", self.proc)

    def provision(self, upstream_url: str) -> str:
        """Prices, a channel to ``upstream_url``, a normal user with quota, and its token key."""
        big = 10**12
        with httpx.Client(base_url=self.base_url, timeout=30) as root:
            _api(root, "POST", "/api/user/login", json={"username": "root", "password": "123456"})
            _api(root, "PUT", "/api/option/", json={"key": "ModelRatio", "value": json.dumps({MODEL: 1})})
            _api(root, "PUT", "/api/option/", json={"key": "CompletionRatio", "value": json.dumps({MODEL: 1})})
            _api(root, "POST", "/api/channel/", json={
                "type": 1, "name": "bench", "key": "sk-x", "base_url": upstream_url, "models": MODEL,
                "group": "default"})
            _api(root, "POST", "/api/user/", json={"username": "bench", "password": PASSWORD,
                                                   "display_name": "bench"})
            found = _api(root, "GET", "/api/user/search", params={"keyword": "bench"})
            user = next(u for u in found if u["username"] == "bench")
            _api(root, "PUT", "/api/user/", json={**user, "quota": big})
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            _api(client, "POST", "/api/user/login", json={"username": "bench", "password": PASSWORD})
            data = _api(client, "POST", "/api/token/", json={
                "name": "bench", "remain_quota": big, "unlimited_quota": False, "expired_time": -1})
            if not isinstance(data, dict) or "key" not in data:
                data = _api(client, "GET", "/api/token/search", params={"keyword": "bench"})[0]
        key = str(data["key"])
        self.key = key if key.startswith("sk-") else f"sk-{key}"
        return self.key

    def db_statements(self) -> dict[str, Any] | None:
        """The statement counts the injected tracer last wrote (None when not counting)."""
        if self.stats_file is None:
            return None
        time.sleep(0.25)  # the tracer writes every 0.1 s
        try:
            return dict(json.loads(self.stats_file.read_text()))
        except (OSError, ValueError):
            return {"total": 0, "by_kind": {}}

    def target(self, name: str = "oneapi", key: str | None = None) -> Target:
        """This gateway as a load target, with the provisioned token (or ``key``)."""
        return Target(name, self.base_url, f"Bearer {key or self.key}", self.proc)


def litellm_target(workdir: Path, pin: set[int] | None, upstream_url: str, venv: Path) -> Target:
    """LiteLLM's proxy (1 worker, no database) with bench-model pointing at the fake upstream."""
    port = free_port()
    config = workdir / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream_url}/v1\n"
        "      api_key: sk-x\n"
        "general_settings:\n"
        "  master_key: sk-bench-master\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTHONPATH")}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False", LITELLM_LOG="ERROR",
               NO_PROXY="*", no_proxy="*", PYTHONUNBUFFERED="1")
    argv = [str(venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
            "--port", str(port), "--num_workers", "1"]
    proc = Proc("litellm", argv, env=env, cwd=workdir, pin=pin, log=workdir / "litellm.log")
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: httpx.get(f"{base}/health/liveliness", timeout=1).status_code == 200,
               180, "litellm proxy", proc)
    return Target("litellm", base, "Bearer sk-bench-master", proc)
