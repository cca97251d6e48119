"""The benchmark report: the budget of issue 5 checked, and one Markdown table of every case."""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]

OTHER = ("other processes' CPU, % of a core", "other_load_pct", False)
# (case, label, key, compare with direct?)
METRICS: dict[str, list[tuple[str, str, bool]]] = {
    "nonstream_c1": [("requests/s", "rps", True), ("p50 ms", "p50_ms", True), ("p99 ms", "p99_ms", True),
                     ("CPU ms/request", "cpu_ms_per_req", False), ("DB round trips/request (gateway counter)", "db_roundtrips_per_req", False),
                     ("SQLite statements/request (trace)", "db_statements_per_req", False),
                     ("RSS MB", "rss_mb", False), ("errors", "errors", False), OTHER],
    "nonstream_c50": [("requests/s", "rps", True), ("p50 ms", "p50_ms", True), ("p99 ms", "p99_ms", True),
                      ("CPU ms/request", "cpu_ms_per_req", False), ("CPU util %", "cpu_util_pct", False),
                      ("DB round trips/request (gateway counter)", "db_roundtrips_per_req", False),
                     ("SQLite statements/request (trace)", "db_statements_per_req", False), ("RSS MB", "rss_mb", False),
                      ("errors", "errors", False), OTHER],
    "stream_c50": [("streams/s", "rps", True), ("p50 ms (whole stream)", "p50_ms", True),
                   ("p99 ms (whole stream)", "p99_ms", True), ("TTFB p50 ms", "ttfb_p50_ms", True),
                   ("TTFB p99 ms", "ttfb_p99_ms", True), ("chunks/stream", "chunks_per_stream", False),
                   ("CPU ms/stream", "cpu_ms_per_req", False), ("CPU µs/chunk", "cpu_us_per_chunk", False),
                   ("CPU util %", "cpu_util_pct", False), ("DB round trips/request (gateway counter)", "db_roundtrips_per_req", False),
                     ("SQLite statements/request (trace)", "db_statements_per_req", False),
                   ("RSS MB", "rss_mb", False), ("errors", "errors", False), OTHER],
    "idle_streams": [("streams open", "opened", False), ("seconds to open all", "open_s", True),
                     ("TTFB p50 ms", "ttfb_p50_ms", True), ("TTFB p99 ms", "ttfb_p99_ms", True),
                     ("CPU ms/stream opened", "cpu_open_ms_per_stream", False),
                     ("RSS before MB", "rss_before_mb", False), ("RSS with streams open MB", "rss_open_mb", False),
                     ("RSS peak, open + close MB", "rss_mb", False), ("KB/stream (peak − before)", "kb_per_stream", False),
                     ("RSS after close MB", "rss_after_mb", False),
                     ("errors", "errors", False), OTHER],
    "soak": [("seconds", "soak_s", False), ("requests/s", "rps", True), ("p50 ms", "p50_ms", True),
             ("p99 ms", "p99_ms", True), ("CPU ms/request", "cpu_ms_per_req", False),
             ("RSS baseline MB", "rss_baseline_mb", False), ("RSS final MB", "rss_final_mb", False),
             ("RSS max MB", "rss_max_mb", False), ("RSS growth %", "rss_growth_pct", False),
             ("errors", "errors", False), OTHER],
    "workers": [("requests/s, 1 worker (pinned)", "rps", True), ("requests/s, 2 workers (all cores)", "rps_2w", False),
                ("2 workers / 1 worker", "scaling_2w", False),
                ("2 workers / 1 worker, each round (turns of 3 s)", "scaling_rounds", False), ("p50 ms, 1 worker", "p50_ms", True),
                ("p50 ms, 2 workers", "p50_ms_2w", False), ("CPU ms/request, 1 worker", "cpu_ms_per_req", False),
                ("CPU ms/request, 2 workers", "cpu_ms_per_req_2w", False),
                ("load side CPU ms/request (fake upstream + wrk), 1 worker", "load_cpu_ms_per_req", False),
                ("load side CPU ms/request (fake upstream + wrk), 2 workers", "load_cpu_ms_per_req_2w", False),
                ("load side CPU, % of a core, 2 workers", "load_util_pct_2w", False),
                ("errors", "errors", False), OTHER],
    "batching": [("requests/s", "rps", False), ("p50 ms", "p50_ms", False), ("CPU ms/request", "cpu_ms_per_req", False),
                 ("DB round trips/request (gateway counter)", "db_roundtrips_per_req", False),
                 ("SQLite statements/request (trace)", "db_statements_per_req", False), ("errors", "errors", False), OTHER],
}
SPEED = ("core speed: reference loop ms (lower = faster)", "core_ref_ms", False)
for _metrics in METRICS.values():
    _metrics.append(SPEED)
TITLES = {"nonstream_c1": "non-stream, c=1", "nonstream_c50": "non-stream, c=50", "stream_c50": "stream, c=50",
          "idle_streams": "idle streams", "soak": "soak (50/50 stream mix, c=50)",
          "workers": "non-stream, c=200", "batching": "non-stream, c=50, BATCH_UPDATE_ENABLED"}
PROCESS_ONLY = {"cpu_ms_per_req", "cpu_util_pct", "cpu_us_per_chunk", "db_statements_per_req", "rss_mb", "db_roundtrips_per_req",
                "rss_before_mb", "rss_after_mb", "rss_open_mb", "kb_per_stream", "cpu_open_ms_per_stream", "rss_baseline_mb",
                "rss_final_mb", "rss_max_mb", "rss_growth_pct", "cpu_ms_per_req_2w", "scaling_2w", "rps_2w",
                "p50_ms_2w", "load_cpu_ms_per_req", "load_cpu_ms_per_req_2w", "load_util_pct_2w",
                "scaling_rounds"}


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    return str(value)


def _get(cases: dict[str, dict[str, Result]], case: str, target: str, key: str) -> Any:
    return cases.get(case, {}).get(target, {}).get(key)


def _db_per_request(cases: dict[str, dict[str, Result]], case: str = "nonstream_c50") -> float | None:
    """The gateway's own round-trip count when it exposes one, else the sqlite3 trace's statements."""
    found = _get(cases, case, "oneapi", "db_roundtrips_per_req")
    return found if found is not None else _get(cases, case, "oneapi", "db_statements_per_req")


def _cheaper(cases: dict[str, dict[str, Result]], case: str) -> float | None:
    ours, theirs = _get(cases, case, "oneapi", "cpu_ms_per_req"), _get(cases, case, "litellm", "cpu_ms_per_req")
    return round(theirs / ours, 2) if ours and theirs else None


def budget(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 5's budget lines with the measured value and pass/fail (None when not measured)."""
    cases = data["cases"]

    def diff(case: str, key: str) -> float | None:
        a, b = _get(cases, case, "oneapi", key), _get(cases, case, "direct", key)
        return round(a - b, 3) if a is not None and b is not None else None

    batching = bool(data.get("setup", {}).get("batch_update"))
    lines = [
        ("gateway CPU per non-stream request, c=50", "ms", 2.0, _get(cases, "nonstream_c50", "oneapi", "cpu_ms_per_req")),
        ("gateway CPU per 20-chunk stream, c=50", "ms", 5.0, _get(cases, "stream_c50", "oneapi", "cpu_ms_per_req")),
        ("added TTFB p50, stream c=50", "ms", 5.0, diff("stream_c50", "ttfb_p50_ms")),
        ("added p50 latency, non-stream c=1", "ms", 3.0, diff("nonstream_c1", "p50_ms")),
        ("idle RSS", "MB", 120.0, data.get("idle_rss_mb", {}).get("oneapi")),
        ("idle RSS after one client hang-up (local token counting)", "MB", 120.0,
         data.get("idle_rss_after_abort_mb", {}).get("oneapi")),
        (f"RSS with {data['plan']['idle_streams']} streams (peak while open and closing)", "MB",
         350.0, _get(cases, "idle_streams", "oneapi", "rss_mb")),
        ("RSS growth over the soak", "%", 5.0, _get(cases, "soak", "oneapi", "rss_growth_pct")),
        (f"DB round trips per relayed request, c=50 (batching {'on' if batching else 'off'})", "",
         0.2 if batching else 2.0, _db_per_request(cases)),
        ("DB round trips per relayed request, c=50 (batching on, amortized)", "", 0.2,
         _db_per_request(cases, "batching")),
        ("2 workers on 2 cores vs 1 worker, c=200", "×", 1.7, _get(cases, "workers", "oneapi", "scaling_2w")),
        # The same two CPU lines as the issue states them machine-independently: LiteLLM's
        # cost on this machine, in the same run, divided by the gateway's.
        ("LiteLLM's CPU per non-stream request ÷ the gateway's, c=50", "×", 6.0, _cheaper(cases, "nonstream_c50")),
        ("LiteLLM's CPU per stream ÷ the gateway's, c=50", "×", 8.0, _cheaper(cases, "stream_c50")),
    ]
    out = []
    for name, unit, limit, value in lines:
        op = "≥" if unit == "×" else "<" if unit == "%" else "≤"
        ok = None if value is None else (value >= limit if op == "≥" else value < limit if op == "<" else value <= limit)
        out.append({"line": name, "unit": unit, "op": op, "limit": limit, "measured": value, "pass": ok,
                    "over_by": None if value is None or ok else round(abs(value - limit), 3)})
    return out


def markdown(data: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    m = data["machine"]
    targets = [t for t in data["targets"] if t != "direct"]
    out = [f"# oneapi benchmark — {data['generated']}", ""]
    out.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_mb']} MB RAM, Linux {m['kernel']}, "
               f"{m['implementation']} {m['python']}.  ")
    s = data["setup"]
    out.append(f"Pinning: {s['pinning']}. Load: {s['loaders']}.  ")
    if s.get("gateway_code"):
        out.append(f"Gateway code: {s['gateway_code']}.  ")
    if data.get("loadavg_start"):
        out.append(f"Load average at start {' '.join(data['loadavg_start'])}, at end "
                   f"{' '.join(data.get('loadavg_end', []))}.  ")
    out.append(f"Fake upstream: JSON after {s['fake']['delay_ms']:g} ms; streams of {s['fake']['chunks']} chunks "
               f"{s['fake']['interval_ms']:g} ms apart + usage chunk + [DONE].  ")
    p = data["plan"]
    out.append(f"Each throughput case: {p['warmup']:g} s warm-up, then {p['duration']:g} s measured; "
               f"idle streams: {p['idle_streams']} held {p['idle_hold']:g} s; soak {p['soak_seconds']:g} s "
               f"(direct soak {p['direct_soak_seconds']:g} s).")
    speeds = [r["core_ref_ms"] for by in data["cases"].values() for r in by.values() if r.get("core_ref_ms")]
    if speeds:
        out.append(f"Core speed during the run: a fixed pure-Python loop (1M additions) took {min(speeds):g}–"
                   f"{max(speeds):g} ms on the gateway's core (measured around every case; this virtual "
                   "machine's speed drifts, and every CPU figure moves with it).")
    out += ["", "## Budget (issue 5)", "", "| budget line | limit | measured | result |", "|---|---|---|---|"]
    for b in data["budget"]:
        miss = "short by" if b["op"] == "≥" else "over by"
        verdict = ("not measured" if b["pass"] is None else
                   "**pass**" if b["pass"] else f"**FAIL** ({miss} {_fmt(b['over_by'])})")
        measured = "—" if b["measured"] is None else f"{_fmt(b['measured'])} {b['unit']}"
        out.append(f"| {b['line']} | {b['op']} {b['limit']:g} {b['unit']} | {measured} | {verdict} |")
    litellm = [_get(data["cases"], c, "litellm", "cpu_ms_per_req") for c in ("nonstream_c50", "stream_c50")]
    if all(litellm):
        out += ["", f"Machine check: LiteLLM's proxy cost {_fmt(litellm[0])} ms CPU per non-stream request and "
                f"{_fmt(litellm[1])} ms per stream in this run; issue 5 set the budget on a machine where it "
                "costs 12–16 ms and ~45 ms. The last two lines compare with LiteLLM in the same run."]
    idle = data.get("idle_rss_mb", {})
    aborted = data.get("idle_rss_after_abort_mb", {})
    out += ["", "Idle RSS after start-up and a few requests: "
            + ", ".join(f"{t} {_fmt(v)} MB" for t, v in idle.items())
            + "; after one more stream that the client hung up on (so the gateway counts tokens itself): "
            + ", ".join(f"{t} {_fmt(v)} MB" for t, v in aborted.items()) + "."]
    if data.get("idle_cpu_pct"):
        out += ["", "CPU while idle (no requests), % of a core: "
                + ", ".join(f"{t} {_fmt(v)}" for t, v in data["idle_cpu_pct"].items())
                + " — included in every CPU-per-request figure, which matters most at c=1."]
    head = ["case", "metric", "direct"]
    for t in targets:
        head += [t, f"{t} − direct", f"{t} / direct"]
    out += ["", "## Results", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for case, metrics in METRICS.items():
        if case not in data["cases"]:
            continue
        for i, (label, key, compare) in enumerate(metrics):
            direct = None if key in PROCESS_ONLY else _get(data["cases"], case, "direct", key)
            row = [TITLES[case] if i == 0 else "", label, _fmt(direct)]
            for t in targets:
                value = _get(data["cases"], case, t, key)
                delta = ratio = None
                if compare and value is not None and direct is not None:
                    delta = round(value - direct, 3)
                    ratio = f"{value / direct:.2f}×" if direct else None
                row += [_fmt(value), _fmt(delta), ratio or "—"]
            out.append("| " + " | ".join(row) + " |")
    db = _get(data["cases"], "nonstream_c50", "oneapi", "db_by_kind_per_req")
    if db:
        out += ["", "SQLite statements per relayed non-stream request by kind (sqlite3 trace, c=50): "
                + ", ".join(f"{k} {v:g}" for k, v in sorted(db.items())) + "."]
    if data.get("notes"):
        out += ["", "## Notes", ""] + [f"- {n}" for n in data["notes"]]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # python -m bench.report [folder]: redo the budget and latest.md from latest.json
    import json
    import sys
    from pathlib import Path

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results"
    data = json.loads((folder / "latest.json").read_text())
    data["budget"] = budget(data)
    (folder / "latest.json").write_text(json.dumps(data, indent=2))
    (folder / "latest.md").write_text(markdown(data))
