"""Counts the SQL statements a process runs through sqlite3, for the benchmark harness.

Loaded only when the harness puts this folder on PYTHONPATH and sets BENCH_DB_STATS_FILE:
every sqlite3 connection gets a trace callback, and a daemon thread writes the counts by
statement kind to that file as JSON every 0.1 s (and, with BENCH_DB_STATS_SQL=1, counts per
statement shape with literals blanked). BENCH_SQLITE_SYNCHRONOUS=NORMAL|FULL|OFF is an
experiment knob: it sets that pragma on every connection. The gateway's code is not touched.
"""

from __future__ import annotations

import os

_PATH = os.environ.get("BENCH_DB_STATS_FILE")

if _PATH:
    import json
    import re
    import sqlite3
    import threading
    import time
    from typing import Any

    _counts: dict[str, int] = {}
    _by_sql: dict[str, int] = {}
    _with_sql = os.environ.get("BENCH_DB_STATS_SQL") == "1"
    _literal = re.compile(r"'[^']*'|\b\d+(?:\.\d+)?\b")
    _connect = sqlite3.connect
    _synchronous = os.environ.get("BENCH_SQLITE_SYNCHRONOUS", "")

    def _trace(sql: str) -> None:
        kind = sql.lstrip()[:6].upper()
        _counts[kind] = _counts.get(kind, 0) + 1
        if _with_sql:
            shape = _literal.sub("?", sql.strip())[:300]
            _by_sql[shape] = _by_sql.get(shape, 0) + 1

    def _traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = _connect(*args, **kwargs)
        if _synchronous in ("OFF", "NORMAL", "FULL"):
            conn.execute(f"PRAGMA synchronous={_synchronous}")
        conn.set_trace_callback(_trace)
        return conn

    sqlite3.connect = _traced_connect  # type: ignore[assignment]

    def _writer() -> None:
        last = None
        while True:
            snapshot = dict(_counts)
            if snapshot != last:
                tmp = f"{_PATH}.tmp"
                with open(tmp, "w") as fh:
                    json.dump({"total": sum(snapshot.values()), "by_kind": snapshot, "by_sql": dict(_by_sql)}, fh)
                os.replace(tmp, _PATH)
                last = snapshot
            time.sleep(0.1)

    threading.Thread(target=_writer, name="bench-dbstats", daemon=True).start()
