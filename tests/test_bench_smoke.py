"""The benchmark harness in quick mode: the gateway answers every case and the numbers exist.

Not a speed test: it only keeps bench/ from rotting (seconds-long cases, no budget asserted).
One quick run of every case (the 2-worker one too) serves both tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = ("nonstream_c1", "nonstream_c50", "stream_c50", "idle_streams", "soak")
ALL = (*CASES, "batching", "workers")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """``bench.run --quick`` of every case, half-second throughput cases: (latest.json, latest.md)."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--cases", *ALL, "--duration", "0.5",
         "--soak-seconds", "1", "--out-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    return json.loads((out / "latest.json").read_text()), (out / "latest.md").read_text()


@pytest.mark.timeout(180)
def test_bench_quick(quick: tuple[dict[str, Any], str]) -> None:
    data, md = quick
    assert "## Budget (issue 5)" in md and "## Results" in md
    assert data["targets"] == ["direct", "oneapi"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["python"]
    assert data["idle_rss_mb"]["oneapi"] > 0
    for case in CASES:
        for target in ("direct", "oneapi"):
            r = data["cases"][case][target]
            assert r["errors"] == 0, (case, target, r)
            assert r["requests"] > 0, (case, target, r)
    gw = data["cases"]
    for case in ("nonstream_c1", "nonstream_c50", "stream_c50"):
        assert gw[case]["oneapi"]["p50_ms"] > 0
        assert gw[case]["oneapi"]["cpu_ms_per_req"] > 0
        assert gw[case]["oneapi"]["rss_mb"] > 0
    assert gw["nonstream_c50"]["oneapi"]["db_statements_per_req"] > 0
    stream = gw["stream_c50"]["oneapi"]
    assert stream["ttfb_p50_ms"] > 0 and stream["cpu_us_per_chunk"] > 0 and stream["chunks_per_stream"] >= 20
    assert gw["idle_streams"]["oneapi"]["opened"] == data["plan"]["idle_streams"]
    assert gw["idle_streams"]["oneapi"]["rss_mb"] > 0
    assert "rss_growth_pct" in gw["soak"]["oneapi"]
    assert gw["batching"]["oneapi"]["requests"] > 0 and gw["batching"]["oneapi"]["errors"] == 0
    assert "direct" not in gw["batching"]  # a setting of the gateway: nothing to compare with
    assert all(r["core_ref_ms"] > 0 for by in gw.values() for r in by.values())
    lines = {b["line"]: b for b in data["budget"]}
    assert all(b["measured"] is not None for name, b in lines.items()
               if "workers" not in name and "LiteLLM" not in name)  # both need the full run


@pytest.mark.timeout(180)
def test_bench_workers_quick(quick: tuple[dict[str, Any], str]) -> None:
    """The 2-worker case: a 1-worker and a 2-worker gateway taking turns, the load side measured."""
    data, _ = quick
    r = data["cases"]["workers"]["oneapi"]
    assert r["errors"] == 0 and r["requests"] > 0 and r["rps"] > 0 and r["rps_2w"] > 0
    assert r["scaling_2w"] == round(r["rps_2w"] / r["rps"], 2) and len(r["scaling_rounds"]) >= 1
    assert r["cpu_ms_per_req"] > 0 and r["cpu_ms_per_req_2w"] > 0
    if r["loader"] == "wrk":  # the load side's CPU is known for wrk runs
        assert r["load_cpu_ms_per_req"] > 0 and r["load_cpu_ms_per_req_2w"] > 0
    assert data["cases"]["workers"]["direct"]["rps"] > 0
    lines = {b["line"]: b for b in data["budget"]}
    assert lines["2 workers on 2 cores vs 1 worker, c=200"]["measured"] == r["scaling_2w"]
