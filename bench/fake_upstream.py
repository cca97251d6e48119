"""A fast fake OpenAI upstream on raw asyncio, run as its own process.

``python -m bench.fake_upstream --port P [--delay-ms 50] [--chunks 20] [--interval-ms 10]``

- ``POST .../chat/completions`` (any prefix): a JSON completion after ``delay_ms``, or,
  when the body has ``"stream": true``, an SSE stream of ``chunks`` content chunks
  ``interval_ms`` apart (the first at once), a final usage chunk and ``data: [DONE]``.
- ``POST /_bench/config`` with a JSON object changes the settings above at run time;
  ``stall_s`` > 0 makes every stream pause that long after its first chunk (idle streams).
- ``GET /health``: 200 ``ok``.

Prints ``READY <port>`` on stdout once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

MAX_HEAD = 64 * 1024


@dataclass
class Config:
    """Behaviour of the fake, changeable at run time through ``/_bench/config``."""

    delay_ms: float = 50.0
    chunks: int = 20
    interval_ms: float = 10.0
    stall_s: float = 0.0
    completion_tokens: int = 16


CONFIG = Config()
STATS = {"requests": 0, "streams": 0, "open": 0}


def _head(status: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _completion(model: str, prompt_tokens: int) -> bytes:
    n = CONFIG.completion_tokens
    return json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok " * n},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": n, "total_tokens": prompt_tokens + n},
    }, separators=(",", ":")).encode()


def _event(data: bytes) -> bytes:
    payload = b"data: " + data + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(payload), payload)


class StreamReply:
    """One SSE reply, written chunk by chunk on loop timers (no task per stream)."""

    def __init__(self, proto: FakeProtocol, model: str, prompt_tokens: int) -> None:
        self.proto = proto
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.sent = 0
        self.handle: asyncio.TimerHandle | None = None
        created = int(time.time())
        self.prefix = ('{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":%d,"model":%s,'
                       % (created, json.dumps(model))).encode()

    def start(self) -> None:
        self.proto.write(_head("200 OK", [("Content-Type", "text/event-stream"),
                                          ("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")]))
        self.step()

    def _chunk(self, i: int, last: bool) -> bytes:
        delta = '{"role":"assistant","content":"tok "}' if i == 0 else '{"content":"tok "}'
        finish = '"stop"' if last else "null"
        return self.prefix + ('"choices":[{"index":0,"delta":%s,"finish_reason":%s}]}' % (delta, finish)).encode()

    def step(self) -> None:
        self.handle = None
        if self.proto.closed:
            return
        total = CONFIG.chunks
        if self.sent < total:
            self.proto.write(_event(self._chunk(self.sent, self.sent == total - 1)))
            self.sent += 1
            if self.sent < total:
                wait = CONFIG.interval_ms / 1000
                if self.sent == 1 and CONFIG.stall_s > 0:
                    wait = CONFIG.stall_s
                self.handle = asyncio.get_running_loop().call_later(wait, self.step)
                return
        usage = {"prompt_tokens": self.prompt_tokens, "completion_tokens": total,
                 "total_tokens": self.prompt_tokens + total}
        self.proto.write(_event(self.prefix + b'"choices":[],"usage":' + json.dumps(usage).encode() + b"}")
                         + _event(b"[DONE]") + b"0\r\n\r\n")
        self.proto.reply_done()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class FakeProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, one request at a time per connection."""

    def __init__(self) -> None:
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.busy = False
        self.keep_alive = True
        self.pending: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        STATS["open"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        STATS["open"] -= 1
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def reply_done(self) -> None:
        self.busy = False
        self.pending = None
        if not self.keep_alive and self.transport is not None:
            self.transport.close()
        elif self.buf:
            self._parse()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._parse()

    def _parse(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEAD and self.transport is not None:
                self.transport.close()
            return
        head = self.buf[:end].decode("latin-1").split("\r\n")
        method, path, _ = (head[0].split(" ", 2) + ["", ""])[:3]
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        if len(self.buf) < end + 4 + length:
            return
        body = self.buf[end + 4:end + 4 + length]
        self.buf = self.buf[end + 4 + length:]
        self.keep_alive = headers.get("connection", "").lower() != "close"
        self.busy = True
        self._handle(method, path, body)

    def _simple(self, status: str, body: bytes, content_type: str = "application/json") -> None:
        self.write(_head(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))]) + body)
        self.reply_done()

    def _handle(self, method: str, path: str, body: bytes) -> None:
        path = path.split("?", 1)[0]
        if method == "GET" and path == "/health":
            self._simple("200 OK", json.dumps({**STATS, **asdict(CONFIG)}).encode())
            return
        if method == "POST" and path == "/_bench/config":
            try:
                for key, value in json.loads(body or b"{}").items():
                    if hasattr(CONFIG, key):
                        setattr(CONFIG, key, type(getattr(CONFIG, key))(value))
            except (ValueError, TypeError, AttributeError) as exc:
                self._simple("400 Bad Request", json.dumps({"error": str(exc)}).encode())
                return
            self._simple("200 OK", json.dumps(asdict(CONFIG)).encode())
            return
        if method != "POST" or not path.endswith("/completions"):
            self._simple("404 Not Found", b'{"error":{"message":"not found","type":"invalid_request_error"}}')
            return
        try:
            payload = json.loads(body)
        except ValueError:
            self._simple("400 Bad Request", b'{"error":{"message":"bad json","type":"invalid_request_error"}}')
            return
        STATS["requests"] += 1
        model = str(payload.get("model") or "bench-model")
        prompt_tokens = max(1, len(body) // 16)
        if payload.get("stream") is True:
            STATS["streams"] += 1
            reply = StreamReply(self, model, prompt_tokens)
            self.pending = reply
            reply.start()
            return
        data = _completion(model, prompt_tokens)
        self.pending = asyncio.get_running_loop().call_later(
            CONFIG.delay_ms / 1000, self._simple, "200 OK", data)


async def serve(host: str, port: int) -> None:
    """Listen until SIGTERM/SIGINT."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeProtocol, host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sock_port = server.sockets[0].getsockname()[1]
    print(f"READY {sock_port}", flush=True)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(prog="bench.fake_upstream", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=CONFIG.delay_ms)
    parser.add_argument("--chunks", type=int, default=CONFIG.chunks)
    parser.add_argument("--interval-ms", type=float, default=CONFIG.interval_ms)
    args = parser.parse_args(argv)
    CONFIG.delay_ms, CONFIG.chunks, CONFIG.interval_ms = args.delay_ms, args.chunks, args.interval_ms
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
