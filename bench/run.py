"""``python -m bench.run [--quick] [--compare-litellm] [--cases ...]``: the benchmark, end to end.

Starts the fake upstream and the gateway (and LiteLLM's proxy), runs every case straight
to the fake and through each target, checks issue 5's budget, prints the Markdown report
and writes ``latest.md`` and ``latest.json`` to the results folder.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import cases as C
from .gateway import BENCH, FakeUpstream, Gateway, Target, litellm_target
from .procs import Proc, core_plan, core_speed_ms, cores, machine, wait_quiet
from .report import budget, markdown

LITELLM_VENV = BENCH / ".venv-litellm"


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ensure_litellm(venv: Path = LITELLM_VENV) -> Path:
    """LiteLLM's proxy in its own virtual environment under bench/ (created on first use)."""
    if not (venv / "bin" / "litellm").exists():
        _log(f"installing litellm[proxy] into {venv} (first use; a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "litellm[proxy]"],
                       check=True, timeout=1800)
    return venv


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="seconds, not minutes: the CI smoke variant")
    parser.add_argument("--compare-litellm", action="store_true", help="also run LiteLLM's proxy (own venv)")
    parser.add_argument("--cases", nargs="+", default=None, metavar="CASE",
                        help=f"subset of: {', '.join(C.CASES)} (comma or space separated; "
                        "--quick leaves out workers)")
    parser.add_argument("--duration", type=float, default=None, help="measured seconds per throughput case")
    parser.add_argument("--warmup", type=float, default=None, help="warm-up seconds before each case")
    parser.add_argument("--soak-seconds", type=float, default=None, help="soak length (default 300)")
    parser.add_argument("--idle-streams", type=int, default=None, help="streams held open (default 1000)")
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto",
                        help="non-stream load from wrk (auto: when on PATH) or bench.load")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="fake upstream's reply delay")
    parser.add_argument("--chunks", type=int, default=20, help="chunks per fake stream")
    parser.add_argument("--interval-ms", type=float, default=10.0, help="ms between stream chunks")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="before each run wait up to this long for other processes to go quiet")
    parser.add_argument("--quiet-limit", type=float, default=30.0, metavar="PCT",
                        help="'quiet': other processes use less than this %% of one core")
    parser.add_argument("--batch-update", action="store_true",
                        help="run the gateway with BATCH_UPDATE_ENABLED=true (batched counters and logs)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--no-db-stats", action="store_true", help="do not count the gateway's SQL statements")
    parser.add_argument("--sqlite-synchronous", choices=("NORMAL", "FULL", "OFF"), default=None,
                        help="experiment: force PRAGMA synchronous on the gateway's sqlite connections")
    parser.add_argument("--db-sql", action="store_true",
                        help="also count the gateway's SQL statements per shape (costs the gateway a little CPU)")
    parser.add_argument("--profile", action="store_true",
                        help="after the cases, profile the gateway with py-spy under c=50 non-stream load")
    parser.add_argument("--profile-seconds", type=float, default=20.0)
    parser.add_argument("--out-dir", type=Path, default=BENCH / "results")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep the temporary folder (database, logs) even when the run had no errors")
    args = parser.parse_args(argv)
    default = [c for c in C.CASES if c != "workers"] if args.quick else list(C.CASES)
    names = [n for item in (args.cases or default) for n in item.split(",") if n]
    unknown = [n for n in names if n not in C.CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(C.CASES)}")
    args.cases = [n for n in C.CASES if n in names]
    if args.sqlite_synchronous and args.no_db_stats:
        parser.error("--sqlite-synchronous works through the DB-stats hook; drop --no-db-stats")
    return args


def make_plan(args: argparse.Namespace, load_pin: set[int] | None) -> C.Plan:
    """Durations for a full or a quick run, with command-line overrides."""
    plan = C.Plan(loader=args.loader, load_pin=load_pin)
    if args.quick:
        plan = C.Plan(duration=1.0, warmup=0.0, idle_streams=50, idle_hold=0.5, soak_seconds=2.0,
                      direct_soak_seconds=1.0, loader=args.loader, load_pin=load_pin)
    if args.duration is not None:
        plan.duration = args.duration
    if args.warmup is not None:
        plan.warmup = args.warmup
    if args.soak_seconds is not None:
        plan.soak_seconds = args.soak_seconds
        plan.direct_soak_seconds = min(plan.direct_soak_seconds, args.soak_seconds)
    if args.idle_streams is not None:
        plan.idle_streams = args.idle_streams
    return plan


def _gateway_env(args: argparse.Namespace) -> dict[str, str]:
    env = {}
    if args.batch_update:
        env["BATCH_UPDATE_ENABLED"] = "true"
    if args.db_sql:
        env["BENCH_DB_STATS_SQL"] = "1"
    if args.sqlite_synchronous:
        env["BENCH_SQLITE_SYNCHRONOUS"] = args.sqlite_synchronous
    return env


def _worker_gateways(gw: Gateway, args: argparse.Namespace, gw_pin: set[int] | None, all_cores: set[int]
                     ) -> Callable[[], tuple[Target, Target, Callable[[], Any]]]:
    """A factory: a 1-worker gateway on the gateway's core and a 2-worker one on every core, both on
    the same database and without the DB statement counters (which cost CPU); and how to stop both.

    ``all_cores`` is explicit because the harness pins itself (and so, by default, its children)
    to the load cores."""

    def start() -> tuple[Target, Target, Callable[[], Any]]:
        env = {k: v for k, v in _gateway_env(args).items() if k != "BENCH_DB_STATS_SQL"}
        one = Gateway(gw.workdir, gw_pin, db_stats=False, extra_env=env, name="gateway-1w")
        try:
            two = Gateway(gw.workdir, all_cores, db_stats=False, extra_env=env, workers=2, name="gateway-2w")
        except BaseException:
            one.proc.stop()
            raise

        def stop() -> None:
            two.proc.stop()
            one.proc.stop()

        return one.target("oneapi-1w", gw.key), two.target("oneapi-2w", gw.key), stop

    return start


def _batching_case(plan: C.Plan, gw: Gateway, args: argparse.Namespace, pin: set[int] | None) -> dict[str, Any]:
    """Non-stream c=50 through a second gateway with BATCH_UPDATE_ENABLED (same core, same database)."""
    env = {**_gateway_env(args), "BATCH_UPDATE_ENABLED": "true"}
    batched = Gateway(gw.workdir, pin, db_stats=not args.no_db_stats, extra_env=env, name="gateway-batch")
    try:
        target = batched.target("oneapi-batch", gw.key)
        C.warm_requests(plan, target)
        return C.throughput_case(plan, target, batched.db_statements, 50, stream=False)
    finally:
        batched.proc.stop()


def run_case(case: str, plan: C.Plan, target: Target, fake: FakeUpstream, gw: Gateway,
             args: argparse.Namespace, all_cores: set[int], gw_pin: set[int] | None) -> dict[str, Any]:
    """One case against one target."""
    db = gw.db_statements if target.name == "oneapi" else None
    if case == "batching":
        return _batching_case(plan, gw, args, gw_pin)
    if case == "workers":
        gateways = _worker_gateways(gw, args, gw_pin, all_cores) if target.name == "oneapi" else None
        return C.workers_case(plan, target, fake, gateways)
    if case == "nonstream_c1":
        return C.throughput_case(plan, target, db, 1, stream=False)
    if case == "nonstream_c50":
        return C.throughput_case(plan, target, db, 50, stream=False)
    if case == "stream_c50":
        return C.throughput_case(plan, target, db, 50, stream=True)
    if case == "idle_streams":
        return C.idle_case(plan, target, fake)
    seconds = plan.direct_soak_seconds if target.name == "direct" else plan.soak_seconds
    return C.soak_case(plan, target, db, seconds)


def _code_version() -> str:
    """The git commit of the tree and how many files differ from it (read-only git commands)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH.parent, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "oneapi", "plugins"], cwd=BENCH.parent,
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"git {head or '?'}" + (f" + {len(dirty)} changed/new paths under oneapi/ and plugins/" if dirty else "")


def _summary(case: str, r: dict[str, Any]) -> str:
    keys = ("rps", "p50_ms", "p99_ms", "ttfb_p50_ms", "cpu_ms_per_req", "rss_mb", "rss_growth_pct", "rps_2w",
            "scaling_2w", "other_load_pct", "errors")
    return ", ".join(f"{k}={r[k]}" for k in keys if k in r)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when a target answered with errors."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the children (finally below)
    all_cores = set(cores())
    gw_pin, load_pin = (None, None) if args.no_pin else core_plan()
    if load_pin:
        os.sched_setaffinity(0, load_pin)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    plan = make_plan(args, load_pin)
    workdir = Path(tempfile.mkdtemp(prefix="oneapi-bench-"))
    procs: list[Proc] = []
    notes: list[str] = []
    data: dict[str, Any] = {"generated": datetime.datetime.now().isoformat(timespec="seconds"),
                            "machine": machine(), "plan": {k: v for k, v in vars(plan).items() if k != "load_pin"},
                            "quick": args.quick, "cases": {}, "idle_rss_mb": {}, "idle_rss_after_abort_mb": {},
                            "idle_cpu_pct": {}, "targets": [],
                            "loadavg_start": Path("/proc/loadavg").read_text().split()[:3]}
    try:
        fake = FakeUpstream(workdir, load_pin, args.delay_ms, args.chunks, args.interval_ms)
        procs.append(fake.proc)
        gw = Gateway(workdir, gw_pin, db_stats=not args.no_db_stats,
                     extra_env=_gateway_env(args))
        procs.append(gw.proc)
        gw.provision(fake.base_url)
        targets = [fake.target(), gw.target()]
        if args.compare_litellm:
            litellm = litellm_target(workdir, gw_pin, fake.base_url, ensure_litellm())
            procs.append(litellm.proc)  # type: ignore[arg-type]
            targets.append(litellm)
            notes.append("LiteLLM's proxy runs with 1 worker, no database, master key auth, on the gateway's "
                         "core; it idles there while oneapi is measured and vice versa.")
        data["targets"] = [t.name for t in targets]
        for t in targets:
            C.warm_requests(plan, t)
            data["idle_rss_mb"][t.name] = C.idle_rss(t)
            data["idle_rss_after_abort_mb"][t.name] = C.abort_one_stream(plan, t, fake)
            data["idle_cpu_pct"][t.name] = C.idle_cpu_pct(t, 0.5 if args.quick else 5.0)
        _log(f"idle RSS: {data['idle_rss_mb']}, after one aborted stream: {data['idle_rss_after_abort_mb']}; "
             f"workdir {workdir}")
        for case in args.cases:
            for t in targets:
                if (case == "workers" and t.name == "litellm") or (case in C.GATEWAY_ONLY and t.name != "oneapi"):
                    continue
                waited, other = wait_quiet(args.quiet_limit, args.wait_quiet) if args.wait_quiet else (0.0, None)
                _log(f"{case} → {t.name} ..." + (f" (waited {waited:g} s for quiet: {other}%)" if waited else ""))
                samples = 1 if args.quick else 3  # a smoke run needs the figure, not its precision
                speed = core_speed_ms(gw_pin, samples)
                result = run_case(case, plan, t, fake, gw, args, all_cores, gw_pin)
                result["core_ref_ms"] = round((speed + core_speed_ms(gw_pin, samples)) / 2, 1)
                result["waited_quiet_s"] = waited
                data["cases"].setdefault(case, {})[t.name] = result
                _log(f"{case} → {t.name}: {_summary(case, result)}")
        if args.profile:
            from .profile import profile_gateway

            data["profile"] = profile_gateway(plan, targets[1], args.out_dir, args.profile_seconds, _log)
    finally:
        for p in reversed(procs):
            p.stop()
    pinning = ("none" if not gw_pin else
               f"gateway alone on core {sorted(gw_pin)}; fake upstream, load and harness on {sorted(load_pin or [])}")
    loaders = "wrk (non-stream) + bench.load (streams, idle, soak)" if C._use_wrk(plan) else "bench.load (Python, aiohttp)"
    data["setup"] = {"pinning": pinning, "loaders": loaders, "workdir": str(workdir),
                     "gateway_code": _code_version(), "batch_update": args.batch_update,
                     "gateway_env": _gateway_env(args),
                     "fake": {"delay_ms": args.delay_ms, "chunks": args.chunks, "interval_ms": args.interval_ms}}
    if not args.no_db_stats:
        notes.append("DB round trips: the gateway's own counter (ONEAPI_DB_STATS=1, /api/status db_statements). "
                     "SQLite statements: a sqlite3 trace callback injected into the gateway process "
                     "(bench/dbstats/sitecustomize.py on PYTHONPATH). Both include background settlement and "
                     "the consume-log insert.")
    if "soak" in args.cases and not args.quick and plan.soak_seconds < 300:
        notes.append(f"The soak was shortened to {plan.soak_seconds:g} s (issue 5 asks for 5 minutes; "
                     "`--soak-seconds 300` or the default runs it in full).")
    if plan.direct_soak_seconds != plan.soak_seconds and "soak" in args.cases:
        notes.append(f"The direct soak runs {plan.direct_soak_seconds:g} s (a reference for rate and latency only).")
    if args.sqlite_synchronous:
        notes.append(f"EXPERIMENT: the harness forced PRAGMA synchronous={args.sqlite_synchronous} on the gateway's "
                     "sqlite connections (bench/dbstats/sitecustomize.py); this is not the gateway's own setting.")
    if args.quick:
        notes.append("Quick (smoke) run: seconds-long cases; the numbers are not meaningful for the budget.")
    others = [r.get("other_load_pct") or 0.0 for by in data["cases"].values() for r in by.values()]
    data["loadavg_end"] = Path("/proc/loadavg").read_text().split()[:3]
    if others and max(others) > args.quiet_limit:
        notes.append(f"The machine was shared: other processes used up to {max(others):g} % of a core during "
                     f"the cases (mean {sum(others) / len(others):.0f} %; load average at the end "
                     f"{' '.join(data['loadavg_end'])}). Latency and rate suffer most; CPU per request is "
                     "read from the gateway's own /proc counters and suffers least.")
    data["notes"] = notes
    data["budget"] = budget(data)
    text = markdown(data)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "latest.md").write_text(text)
    C.write_json(args.out_dir / "latest.json", data)
    print(text)
    errors = {f"{c}/{t}": r.get("errors", 0) for c, by in data["cases"].items() for t, r in by.items()
              if r.get("errors")}
    if errors:
        _log(f"errors: {errors}; logs and database kept in {workdir}")
        return 1
    if args.keep_workdir:
        _log(f"logs and database kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
