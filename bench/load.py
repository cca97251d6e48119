"""A bounded async HTTP load generator (aiohttp), run as its own process.

``python -m bench.load --url URL --concurrency 50 --duration 10 [--stream | --mix 0.5]``
keeps ``concurrency`` requests in flight for ``duration`` seconds, then lets the ones in
flight finish (bounded by ``--timeout``) and prints ``RESULT {json}``.

``--idle N --hold S`` opens N streams, waits until each has received its first chunk,
prints ``READY {json}``, holds them open S seconds, prints ``CLOSING``, closes them and
prints ``RESULT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``; 0 for an empty list."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Tally:
    """What the workers observed."""

    ok: int = 0
    streams: int = 0
    events: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latency: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def summary(self, elapsed: float) -> dict[str, Any]:
        ms = 1000.0
        return {
            "requests": self.ok, "errors": sum(self.errors.values()), "error_kinds": self.errors,
            "elapsed_s": round(elapsed, 3), "rps": round(self.ok / elapsed, 2) if elapsed > 0 else 0.0,
            "p50_ms": round(percentile(self.latency, 50) * ms, 3),
            "p90_ms": round(percentile(self.latency, 90) * ms, 3),
            "p99_ms": round(percentile(self.latency, 99) * ms, 3),
            "mean_ms": round(sum(self.latency) / len(self.latency) * ms, 3) if self.latency else 0.0,
            "streams": self.streams, "events": self.events,
            "ttfb_p50_ms": round(percentile(self.ttfb, 50) * ms, 3),
            "ttfb_p99_ms": round(percentile(self.ttfb, 99) * ms, 3),
        }


class Client:
    """Sends the benchmark's chat requests and records what came back."""

    def __init__(self, session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                 body: dict[str, Any], tally: Tally) -> None:
        self.session = session
        self.url = url
        self.headers = {"Content-Type": "application/json", **headers}
        self.plain = json.dumps({**body, "stream": False}).encode()
        self.streamed = json.dumps({**body, "stream": True, "stream_options": {"include_usage": True}}).encode()
        self.tally = tally

    async def one(self, stream: bool, ready: asyncio.Event | None = None,
                  release: asyncio.Event | None = None) -> None:
        """One request; with ``ready``/``release``, signal the first chunk and wait before reading on."""
        t0 = time.perf_counter()
        try:
            async with self.session.post(self.url, data=self.streamed if stream else self.plain,
                                         headers=self.headers) as resp:
                if resp.status != 200:
                    await resp.read()
                    self.tally.error(f"status_{resp.status}")
                    return
                if not stream:
                    body = await resp.read()
                    if b'"choices"' not in body:
                        self.tally.error("bad_body")
                        return
                else:
                    if not await self._read_stream(resp, t0, ready, release):
                        return
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.tally.error(type(exc).__name__)
            return
        self.tally.latency.append(time.perf_counter() - t0)
        self.tally.ok += 1

    async def _read_stream(self, resp: aiohttp.ClientResponse, t0: float, ready: asyncio.Event | None,
                           release: asyncio.Event | None) -> bool:
        tail = b""
        first = True
        events = 0
        async for data in resp.content.iter_any():
            if first and data:
                first = False
                self.tally.ttfb.append(time.perf_counter() - t0)
                if ready is not None:
                    ready.set()
                if release is not None:
                    await release.wait()
                    return True
            window = tail + data
            events += window.count(b"data: ")
            tail = window[-16:]
        self.tally.events += events
        self.tally.streams += 1
        if b"[DONE]" not in tail:
            self.tally.error("stream_incomplete")
            return False
        return True


async def run_load(client: Client, concurrency: int, duration: float, mix: float) -> dict[str, Any]:
    """Keep ``concurrency`` requests in flight for ``duration`` seconds."""
    deadline = time.perf_counter() + duration
    rng = random.Random(1)

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await client.one(stream=rng.random() < mix)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return client.tally.summary(time.perf_counter() - start)


async def run_idle(client: Client, count: int, hold: float, open_timeout: float) -> dict[str, Any]:
    """Open ``count`` streams, report when all are flowing, hold them, close them."""
    release = asyncio.Event()
    readies = [asyncio.Event() for _ in range(count)]
    start = time.perf_counter()
    tasks = []
    for i, ready in enumerate(readies):
        tasks.append(asyncio.create_task(client.one(True, ready, release)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)  # let the accept queue drain
    waiters = [asyncio.create_task(r.wait()) for r in readies]
    done, pending = await asyncio.wait(waiters, timeout=open_timeout)
    for w in pending:
        w.cancel()
    opened = len(done)
    info = {"opened": opened, "wanted": count, "open_s": round(time.perf_counter() - start, 3),
            "ttfb_p50_ms": round(percentile(client.tally.ttfb, 50) * 1000, 3),
            "ttfb_p99_ms": round(percentile(client.tally.ttfb, 99) * 1000, 3)}
    print("READY " + json.dumps(info), flush=True)
    await asyncio.sleep(hold)
    print("CLOSING", flush=True)
    release.set()
    await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    failed = count - opened
    return {**client.tally.summary(time.perf_counter() - start), **info,
            "requests": opened, "errors": failed + sum(client.tally.errors.values()),
            "error_kinds": {**client.tally.errors, **({"not_opened": failed} if failed else {})}}


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    """Run the load the arguments describe."""
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    body = json.loads(args.body)
    # idle streams are held longer than any request timeout: only connecting is bounded there
    timeout = aiohttp.ClientTimeout(total=None if args.idle else args.timeout, sock_connect=args.timeout)
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
        client = Client(session, args.url, headers, body, Tally())
        if args.idle:
            return await run_idle(client, args.idle, args.hold, args.timeout)
        mix = 1.0 if args.stream else args.mix
        return await run_load(client, args.concurrency, args.duration, mix)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, print ``RESULT {json}``."""
    parser = argparse.ArgumentParser(prog="bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--header", action="append", default=[], help="K: V (repeatable)")
    parser.add_argument("--body", default='{"model":"bench-model","messages":[{"role":"user","content":"hi"}]}')
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--mix", type=float, default=0.0, help="fraction of requests that stream")
    parser.add_argument("--idle", type=int, default=0, help="open this many streams and hold them")
    parser.add_argument("--hold", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    _raise_fd_limit()
    result = asyncio.run(amain(args))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
