"""Where the gateway's CPU goes: py-spy under c=50 non-stream load, hot spots as a table."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import cases as C
from .gateway import BENCH, Target
from .procs import ROOT, Proc

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _pyspy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def _short(path: str) -> str:
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker.startswith("/lib") and "/" in tail else tail
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def _name(frame: str) -> str:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    return f"{_short(m['file'])}:{m['func']}"


def _package(name: str) -> str:
    path = name.rsplit(":", 1)[0]
    if path.startswith("<"):
        return path
    if path.startswith("plugins/"):
        return "/".join(path.split("/")[:2])
    return path.split("/", 1)[0].removesuffix(".py")


def _ours(name: str) -> bool:
    """Gateway code: the core and the plugins (``oneapi_*`` packages), not the CLI wrapper."""
    return name.startswith(("oneapi/", "oneapi_", "plugins/")) and not name.startswith(
        ("oneapi/cli.py", "oneapi/__main__"))


def hot_spots(raw: str, top: int = 15) -> dict[str, Any]:
    """Sample shares from py-spy's raw (collapsed) output.

    ``self``: innermost frame; ``by_package``: innermost frame's package; ``gateway``:
    gateway functions, inclusive; ``callsites``: the deepest gateway frame and the library
    function it called, inclusive (stacks with no gateway frame count as server/framework);
    ``inclusive``: every function.
    """
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    pkg: Counter[str] = Counter()
    gateway: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_name(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        n = int(count)
        total += n
        own[frames[-1]] += n
        pkg[_package(frames[-1])] += n
        for name in set(frames):
            incl[name] += n
            if _ours(name):
                gateway[name] += n
        mine = [i for i, f in enumerate(frames) if _ours(f)]
        if not mine:
            calls["(no gateway frame: server, framework, event loop)"] += n
        else:
            i = mine[-1]
            callee = frames[i + 1] if i + 1 < len(frames) else "(own code)"
            calls[f"{frames[i]} → {callee}"] += n

    def table(counter: Counter[str], k: int) -> list[dict[str, Any]]:
        return [{"function": f, "samples": c, "pct": round(c * 100 / max(total, 1), 1)}
                for f, c in counter.most_common(k)]

    return {"samples": total, "self": table(own, top), "by_package": table(pkg, top),
            "gateway": table(gateway, top * 2), "callsites": table(calls, top * 2),
            "inclusive": table(incl, top * 4)}


def _load_proc(plan: C.Plan, target: Target, seconds: float, workdir: Path) -> Proc:
    if C._use_wrk(plan):
        import os

        env = {**os.environ, "BENCH_BODY": C.BODY, "BENCH_AUTH": target.auth}
        argv = ["wrk", "-t1", "-c50", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s",
                str(BENCH / "load.lua"), target.url]
        return Proc("profile load", argv, env=env, pin=plan.load_pin, log=workdir / "profile-load.log")
    argv = C._load_argv(target, "--concurrency", "50", "--duration", str(seconds))
    return Proc("profile load", argv, cwd=ROOT, pin=plan.load_pin, log=workdir / "profile-load.log")


def profile_gateway(plan: C.Plan, target: Target, out_dir: Path, seconds: float,
                    log: Callable[[str], None]) -> dict[str, Any]:
    """py-spy (raw, then flamegraph) on the gateway under c=50 non-stream load; hot spots to profile.md."""
    pyspy = _pyspy()
    if pyspy is None or target.pid is None:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    out_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    for fmt, name in (("raw", "profile.txt"), ("flamegraph", "profile.svg")):
        log(f"py-spy {fmt} for {seconds:g} s under c=50 non-stream load")
        load = _load_proc(plan, target, seconds + 4, out_dir)
        try:
            time.sleep(2)
            argv = [pyspy, "record", "--pid", str(target.pid), "--duration", str(int(seconds)), "--rate", "250", "--gil",
                    "--format", fmt, "-o", str(out_dir / name)]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
            if done.returncode != 0:
                return {"error": f"py-spy failed: {done.stderr[-500:]}"}
            load.popen.wait(timeout=seconds + 60)
        finally:
            load.stop()
        (out_dir / "profile-load.log").unlink(missing_ok=True)
    result = write_markdown(out_dir, f"{seconds:g} s at c=50 non-stream")
    result["files"] = ["profile.txt", "profile.svg", "profile.md"]
    return result


def write_markdown(out_dir: Path, what: str) -> dict[str, Any]:
    """Summarise ``profile.txt`` in ``out_dir`` into ``profile.md``; returns the tables."""
    result = hot_spots((out_dir / "profile.txt").read_text())
    lines = [f"# Gateway profile (py-spy --gil, {what}, {result['samples']} samples)", "",
             "Samples are taken only while a thread holds the GIL, so they are Python CPU time.", ""]
    for title, key in (("Innermost frame by package", "by_package"), ("Gateway functions (inclusive)", "gateway"),
                       ("Deepest gateway frame → what it called (inclusive)", "callsites"),
                       ("Innermost frame (self)", "self"), ("Every function (inclusive)", "inclusive")):
        lines += [f"## {title}", "", "| % samples | function |", "|---|---|"]
        lines += [f"| {r['pct']} | `{r['function']}` |" for r in result[key]]
        lines.append("")
    (out_dir / "profile.md").write_text("\n".join(lines))
    return result


if __name__ == "__main__":  # python -m bench.profile [folder]: rebuild profile.md from profile.txt
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else BENCH / "results"
    write_markdown(folder, sys.argv[2] if len(sys.argv) > 2 else "c=50 non-stream")
