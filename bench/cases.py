"""The benchmark cases: load from wrk or bench.load, measured against one target's process."""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .gateway import BENCH, FakeUpstream, Target
from .procs import ROOT, MachineLoad, Proc, cpu_seconds, rss_mb

BODY = json.dumps({"model": "bench-model", "messages": [{"role": "user", "content": "Say hi to the benchmark."}],
                   "max_tokens": 16})
CASES = ("nonstream_c1", "nonstream_c50", "stream_c50", "idle_streams", "soak", "workers", "batching")
GATEWAY_ONLY = {"batching"}  # cases about the gateway's own settings: no direct or LiteLLM run
WORKERS_CONCURRENCY = 200
WORKERS_ROUND = 3.0  # seconds per turn when 1 and 2 workers take turns


@dataclass
class Plan:
    """How long and how hard each case runs."""

    duration: float = 15.0
    warmup: float = 3.0
    idle_streams: int = 1000
    idle_hold: float = 5.0
    soak_seconds: float = 300.0
    direct_soak_seconds: float = 60.0
    loader: str = "auto"  # auto | wrk | python
    load_pin: set[int] | None = None


def _pin(cores: set[int] | None) -> Callable[[], None] | None:
    return (lambda: os.sched_setaffinity(0, cores)) if cores else None


def _use_wrk(plan: Plan) -> bool:
    if plan.loader == "python":
        return False
    found = shutil.which("wrk") is not None
    if plan.loader == "wrk" and not found:
        raise RuntimeError("--loader wrk but wrk is not on PATH (apt-get install wrk)")
    return found


def wrk_load(plan: Plan, target: Target, concurrency: int, duration: float) -> dict[str, Any]:
    """Non-stream load from wrk; the result in bench.load's shape."""
    seconds = max(1, round(duration))
    env = {**os.environ, "BENCH_BODY": BODY, "BENCH_AUTH": target.auth}
    argv = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s", "-s",
            str(BENCH / "load.lua"), target.url]
    children0 = _children_cpu()
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60,
                         preexec_fn=_pin(plan.load_pin))
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result (rc {out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    w = json.loads(line.removeprefix("WRK_JSON "))
    elapsed = w["duration_us"] / 1e6
    errors = {k: w[k] for k in ("connect", "read", "write", "status", "timeout") if w[k]}
    ok = w["requests"] - w["status"]
    return {"loader": "wrk", "loader_cpu_s": round(_children_cpu() - children0, 3), "requests": ok,
            "errors": sum(errors.values()), "error_kinds": errors,
            "elapsed_s": round(elapsed, 3), "rps": round(ok / elapsed, 2),
            "p50_ms": w["p50_us"] / 1000, "p90_ms": w["p90_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
            "mean_ms": round(w["mean_us"] / 1000, 3), "streams": 0, "events": 0}


def _children_cpu() -> float:
    """CPU seconds of the harness's finished (waited-for) children: wrk's, around one run."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load_argv(target: Target, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bench.load", "--url", target.url, "--header", f"Authorization: {target.auth}",
            "--body", BODY, *extra]


def py_load(plan: Plan, target: Target, concurrency: int, duration: float, stream: bool = False,
            mix: float = 0.0) -> dict[str, Any]:
    """Load from bench.load in its own process."""
    argv = _load_argv(target, "--concurrency", str(concurrency), "--duration", str(duration),
                      "--mix", str(1.0 if stream else mix))
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 90, cwd=ROOT,
                         preexec_fn=_pin(plan.load_pin))
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"bench.load gave no result (rc {out.returncode}): {out.stderr[-800:]}")
    return {"loader": "python", **json.loads(line.removeprefix("RESULT "))}


def load(plan: Plan, target: Target, concurrency: int, duration: float, stream: bool = False) -> dict[str, Any]:
    """wrk for non-stream load when available, else bench.load."""
    if not stream and _use_wrk(plan):
        return wrk_load(plan, target, concurrency, duration)
    return py_load(plan, target, concurrency, duration, stream)


def measured(target: Target, db: Callable[[], dict[str, Any] | None] | None,
             run: Callable[[], dict[str, Any]], fake_pid: int | None = None) -> dict[str, Any]:
    """Run ``run`` and add the CPU, memory and DB statements the target's process spent on it.

    With ``fake_pid``, also the CPU the load side (the fake upstream and wrk) spent per request."""
    pid = target.pid
    db0 = db() if db else None
    cpu0 = cpu_seconds(pid) if pid else 0.0
    fake0 = cpu_seconds(fake_pid) if fake_pid else 0.0
    machine = MachineLoad()
    result = run()
    time.sleep(0.3)  # background settlement of the last requests
    cpu = (cpu_seconds(pid) - cpu0) if pid else 0.0
    result["other_load_pct"] = machine.other_pct()
    n = max(result.get("requests", 0), 1)
    result["cpu_s"] = round(cpu, 3)
    result["cpu_ms_per_req"] = round(cpu * 1000 / n, 3)
    result["cpu_util_pct"] = round(cpu / result["elapsed_s"] * 100, 1) if result.get("elapsed_s") else 0.0
    if fake_pid and "loader_cpu_s" in result:
        load_cpu = cpu_seconds(fake_pid) - fake0 + result["loader_cpu_s"]
        result["load_cpu_ms_per_req"] = round(load_cpu * 1000 / n, 3)
        result["load_util_pct"] = round(load_cpu / result["elapsed_s"] * 100, 1) if result.get("elapsed_s") else 0.0
    if result.get("events"):
        result["cpu_us_per_chunk"] = round(cpu * 1e6 / result["events"], 2)
        result["chunks_per_stream"] = round(result["events"] / max(result.get("streams", 0), 1), 1)
    if pid:
        result["rss_mb"] = rss_mb(pid)
    db1 = db() if db else None
    if db0 is not None and db1 is not None:
        delta = {k: v - db0["by_kind"].get(k, 0) for k, v in db1["by_kind"].items()}
        result["db_statements_per_req"] = round((db1["total"] - db0["total"]) / n, 2)
        if db0.get("roundtrips") is not None and db1.get("roundtrips") is not None:
            result["db_roundtrips_per_req"] = round((db1["roundtrips"] - db0["roundtrips"]) / n, 3)
        result["db_by_kind_per_req"] = {k: round(v / n, 2) for k, v in delta.items() if v}
        before = db0.get("by_sql") or {}
        shapes = {k: v - before.get(k, 0) for k, v in (db1.get("by_sql") or {}).items()}
        top = sorted(((v, k) for k, v in shapes.items() if v), reverse=True)[:12]
        if top:
            result["db_by_sql_per_req"] = {k: round(v / n, 3) for v, k in top}
    return result


def throughput_case(plan: Plan, target: Target, db: Callable[[], dict[str, Any] | None] | None,
                    concurrency: int, stream: bool, fake_pid: int | None = None) -> dict[str, Any]:
    """Warm up, then measure ``concurrency`` clients for ``plan.duration`` seconds."""
    if plan.warmup > 0:
        load(plan, target, concurrency, plan.warmup, stream)
    return measured(target, db, lambda: load(plan, target, concurrency, plan.duration, stream), fake_pid)


class RssPeak:
    """Samples a process tree's RSS in a thread, five times a second, keeping the maximum."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.peak = rss_mb(pid) if pid else 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self.pid and not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_mb(self.pid))

    def take(self) -> float:
        """The peak so far, and start again from the current value."""
        peak, self.peak = self.peak, rss_mb(self.pid) if self.pid else 0.0
        return peak

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def idle_case(plan: Plan, target: Target, fake: FakeUpstream) -> dict[str, Any]:
    """Open ``plan.idle_streams`` streams against a stalling upstream, hold, close; memory throughout."""
    pid = target.pid
    fake.configure(stall_s=plan.idle_hold + 30)
    rss_before = rss_mb(pid) if pid else 0.0
    cpu0 = cpu_seconds(pid) if pid else 0.0
    machine = MachineLoad()
    argv = _load_argv(target, "--idle", str(plan.idle_streams), "--hold", str(plan.idle_hold), "--timeout", "120")
    proc = Proc("idle load", argv, cwd=ROOT, pin=plan.load_pin, stdout_pipe=True)
    sampler = RssPeak(pid)
    ready: dict[str, Any] = {}
    result: dict[str, Any] = {}
    open_peak = rss_before
    try:
        assert proc.popen.stdout is not None
        for raw in proc.popen.stdout:
            line = raw.decode().strip()
            if line.startswith("READY "):
                ready = json.loads(line.removeprefix("READY "))
                cpu_open = cpu_seconds(pid) - cpu0 if pid else 0.0
                ready["cpu_open_ms_per_stream"] = round(cpu_open * 1000 / max(ready.get("opened", 1), 1), 3)
            elif line == "CLOSING":
                open_peak = sampler.take()  # opening and holding
            elif line.startswith("RESULT "):
                result = json.loads(line.removeprefix("RESULT "))
        proc.popen.wait(timeout=plan.idle_hold + 180)
    finally:
        proc.stop()
        fake.configure()
    other = machine.other_pct()
    time.sleep(min(1.0, plan.idle_hold))
    close_peak = sampler.stop()
    opened = int(ready.get("opened", 0))
    peak = max(open_peak, close_peak)
    return {**result, **ready, "loader": "python", "rss_before_mb": rss_before, "rss_open_mb": open_peak,
            "rss_mb": peak, "other_load_pct": other, "rss_after_mb": rss_mb(pid) if pid else 0.0,
            "kb_per_stream": round((peak - rss_before) * 1024 / opened, 1) if opened else 0.0}


def soak_case(plan: Plan, target: Target, db: Callable[[], dict[str, Any] | None] | None,
              seconds: float) -> dict[str, Any]:
    """Half stream, half non-stream at 50 concurrent for ``seconds``; RSS sampled twice a second."""
    pid = target.pid
    samples: list[tuple[float, float]] = []
    argv = _load_argv(target, "--concurrency", "50", "--duration", str(seconds), "--mix", "0.5")

    def run() -> dict[str, Any]:
        proc = Proc("soak load", argv, cwd=ROOT, pin=plan.load_pin, stdout_pipe=True)
        start = time.monotonic()
        try:
            while proc.alive() and time.monotonic() - start < seconds + 120:
                if pid:
                    samples.append((time.monotonic() - start, rss_mb(pid)))
                time.sleep(0.5)
            assert proc.popen.stdout is not None
            text = proc.popen.stdout.read().decode()
        finally:
            proc.stop()
        line = next((ln for ln in text.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError("soak load gave no result")
        return {"loader": "python", **json.loads(line.removeprefix("RESULT "))}

    result = measured(target, db, run)
    if samples:
        warm = max(5.0, seconds * 0.2)
        after = [r for t, r in samples if t >= warm] or [samples[-1][1]]
        baseline, final = after[0], sum(after[-3:]) / len(after[-3:])
        result.update(rss_start_mb=samples[0][1], rss_baseline_mb=baseline, rss_final_mb=round(final, 1),
                      rss_max_mb=max(r for _, r in samples), baseline_at_s=warm,
                      rss_growth_pct=round((final - baseline) / baseline * 100, 2) if baseline else 0.0)
    result["soak_s"] = seconds
    return result


def workers_case(plan: Plan, target: Target, fake: FakeUpstream,
                 gateways: Callable[[], tuple[Target, Target, Callable[[], None]]] | None) -> dict[str, Any]:
    """Non-stream at c=200: this target; or, with ``gateways`` (which starts them), a 1-worker
    gateway pinned like ``target`` and a 2-worker one on all cores.

    The two gateways take turns in rounds of ``WORKERS_ROUND`` seconds, so that a change in the
    machine's speed during the case (common on a VM) weighs on both alike. The load side's CPU
    is measured too: with 2 workers it shares their cores."""
    fake_pid = fake.proc.pid if target.pid != fake.proc.pid else None
    if gateways is None:
        return throughput_case(plan, target, None, WORKERS_CONCURRENCY, stream=False, fake_pid=fake_pid)
    target, target2, stop = gateways()
    rounds = max(1, round(plan.duration / WORKERS_ROUND))
    each = plan.duration / rounds
    runs: dict[str, list[dict[str, Any]]] = {"1w": [], "2w": []}
    try:
        for t in (target, target2):
            if plan.warmup > 0:
                load(plan, t, WORKERS_CONCURRENCY, plan.warmup)
        for _ in range(rounds):
            for name, t in (("1w", target), ("2w", target2)):
                runs[name].append(measured(t, None, lambda t=t: load(plan, t, WORKERS_CONCURRENCY, each),
                                           fake_pid))
    finally:
        stop()
    one, both = _rounds_together(runs["1w"]), _rounds_together(runs["2w"])
    extra = {f"{k}_2w": both.get(k) for k in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "cpu_util_pct",
                                                 "rss_mb", "other_load_pct", "load_cpu_ms_per_req",
                                                 "load_util_pct")}
    scaling = round(both["rps"] / one["rps"], 2) if one.get("rps") else None
    per_round = [round(b["rps"] / a["rps"], 2) for a, b in zip(runs["1w"], runs["2w"], strict=True) if a["rps"]]
    return {**one, **extra, "errors_1w": one["errors"], "errors_2w": both["errors"],
            "errors": one["errors"] + both["errors"], "scaling_2w": scaling, "scaling_rounds": per_round}


def _rounds_together(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several measured runs of one target as one: totals, rates over the total time, the median
    of the rounds' percentiles, the largest RSS."""
    requests = sum(r["requests"] for r in runs)
    elapsed = sum(r["elapsed_s"] for r in runs)
    cpu = sum(r["cpu_s"] for r in runs)
    out = {"loader": runs[0]["loader"], "requests": requests, "elapsed_s": round(elapsed, 3),
           "errors": sum(r["errors"] for r in runs), "rps": round(requests / elapsed, 2) if elapsed else 0.0,
           "cpu_s": round(cpu, 3), "cpu_ms_per_req": round(cpu * 1000 / max(requests, 1), 3),
           "cpu_util_pct": round(cpu / elapsed * 100, 1) if elapsed else 0.0,
           "rss_mb": max(r.get("rss_mb", 0.0) for r in runs),
           "other_load_pct": round(statistics.mean(r["other_load_pct"] for r in runs), 1)}
    for key in ("p50_ms", "p90_ms", "p99_ms"):
        out[key] = statistics.median(r[key] for r in runs)
    if all("load_cpu_ms_per_req" in r for r in runs):
        load_cpu = sum(r["load_cpu_ms_per_req"] * max(r["requests"], 1) / 1000 for r in runs)
        out["load_cpu_ms_per_req"] = round(load_cpu * 1000 / max(requests, 1), 3)
        out["load_util_pct"] = round(load_cpu / elapsed * 100, 1) if elapsed else 0.0
    return out


def idle_rss(target: Target) -> float:
    """The target's resident memory right now, in MB."""
    return rss_mb(target.pid) if target.pid else 0.0


def warm_requests(plan: Plan, target: Target) -> None:
    """A few requests of each kind so that lazily built state exists before memory is read."""
    py_load(plan, target, 4, min(1.0, max(plan.warmup, 0.3)), mix=0.5)


def abort_one_stream(plan: Plan, target: Target, fake: FakeUpstream) -> float:
    """A client that hangs up mid-stream (the path that counts tokens locally); RSS afterwards."""
    fake.configure(stall_s=5)
    try:
        argv = _load_argv(target, "--idle", "1", "--hold", "0.1", "--timeout", "30")
        subprocess.run(argv, capture_output=True, timeout=60, cwd=ROOT, preexec_fn=_pin(plan.load_pin))
    finally:
        fake.configure()
    time.sleep(0.5)
    return idle_rss(target)


def idle_cpu_pct(target: Target, seconds: float) -> float:
    """The target's CPU use while nothing is sent to it, in % of one core."""
    if not target.pid or seconds <= 0:
        return 0.0
    cpu0, t0 = cpu_seconds(target.pid), time.monotonic()
    time.sleep(seconds)
    return round((cpu_seconds(target.pid) - cpu0) / (time.monotonic() - t0) * 100, 2)


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False))
    tmp.replace(path)
