"""What every fake upstream shares: an aiohttp app on 127.0.0.1 served from a background thread.

``ThreadedFake`` runs the app in a daemon thread with its own event loop (``start``/``stop``,
a context manager, ``port``/``base_url``) and owns the behaviour knobs: plain attributes whose
starting values (class ``_knobs``, overridden by constructor keywords) ``reset()`` restores.
``UpstreamFake`` adds what the API fakes have in common: every request recorded as a
``RecordedRequest`` (``requests``) and failure injection (``fail``). A fake keeps only its
provider's wire format: its routes (``_routes``), its middleware checks and its endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Self, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.typedefs import Handler

T = TypeVar("T")
F = TypeVar("F", bound="ThreadedFake")
FailBody = dict[str, Any] | str | bytes | None
MAX_BODY = 64 * 1024**2  # client_max_size of the fakes' apps
PNG_1X1 = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
                           "hwGA60e6kgAAAABJRU5ErkJggg==")  # what the fakes' image URLs serve


class UploadedFile(NamedTuple):
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One request as received: headers with lower-case keys; ``json`` if the body parses.

    A multipart body is split into ``form`` fields and ``files`` (``body`` stays empty).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)


REC = web.RequestKey("rec", RecordedRequest)  # the request's record, for the handlers


async def read_request(request: web.Request) -> RecordedRequest:
    """Read ``request`` (its whole body) into a ``RecordedRequest``."""
    rec = RecordedRequest(request.method, request.path, dict(request.query),
                          {k.lower(): v for k, v in request.headers.items()})
    if request.content_type.startswith("multipart/"):
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                rec.form[part.name] = await part.text()
                continue
            ctype = part.headers.get("Content-Type", "application/octet-stream")
            data = bytes(await part.read(decode=False))
            rec.files[part.name] = UploadedFile(part.filename, ctype, data)
    else:
        rec.body = await request.read()
        try:
            rec.json = json.loads(rec.body) if rec.body else None
        except ValueError:
            pass
    return rec


class ThreadedFake:
    """An aiohttp app served on 127.0.0.1 from a daemon thread with its own event loop.

    Subclasses list their knobs and defaults in ``_knobs`` and add their routes in
    ``_routes`` (or build the whole app in ``_app``); ``_on_start``/``_on_stop`` run in the
    loop right after the port listens and right before the server closes. ``_stopping`` is
    set when the fake stops (handlers that stall wait on it).
    """

    _knobs: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, port: int = 0, **knobs: Any) -> None:
        if unknown := set(knobs) - set(self._knobs):
            raise TypeError(f"unknown knobs: {sorted(unknown)}")
        self._defaults = {**self._knobs, **knobs}
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self.port = port
        self.reset()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        """Restore every knob to its starting value."""
        with self._lock:
            for name, value in self._defaults.items():
                setattr(self, name, self._fresh(name, value))

    def _fresh(self, name: str, value: Any) -> Any:
        """The value ``reset()`` gives knob ``name`` (a copy, where the default is mutable)."""
        return value

    # ----- lifecycle -------------------------------------------------------------------
    def start(self) -> Self:
        """Start serving; return once the port is listening (a restart keeps the port)."""
        if self._loop is not None:
            return self
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=type(self).__name__,
                                        daemon=True)
        self._thread.start()
        try:
            self._call(self._serve())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving and close open connections."""
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._thread = self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run ``coro`` in the fake's loop and wait for its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]
        await self._on_start()

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        await self._on_stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        self._routes(app.router)
        return app

    def _routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request)

    async def _on_start(self) -> None:
        pass

    async def _on_stop(self) -> None:
        pass


class UpstreamFake(ThreadedFake):
    """A ``ThreadedFake`` that records every request and fails on demand.

    Its middleware calls ``_record`` first (which also puts the record in ``request[REC]``)
    and ``_take_failure``/``_failure`` where the provider checks for injected failures.
    """

    fail_status: int | None
    fail_body: FailBody
    fail_times: int | None

    def __init__(self, port: int = 0, **knobs: Any) -> None:
        self._records: list[RecordedRequest] = []
        self._answered = 0
        self._ids = itertools.count(1)
        super().__init__(port, **knobs)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._records)

    @property
    def answered(self) -> int:
        """How many requests were answered to the end (their handler returned, the whole body
        written or the client gone), since the last ``reset``."""
        with self._lock:
            return self._answered

    def reset(self) -> None:
        """Forget recorded requests and restore every knob to its starting value."""
        with self._lock:
            self._records.clear()
            self._answered = 0
            super().reset()

    def _app(self) -> web.Application:
        app = super()._app()
        app.middlewares.insert(0, self._count_answer)
        return app

    @web.middleware
    async def _count_answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        finally:
            with self._lock:
                self._answered += 1

    def fail(self, status: int, body: FailBody = None, times: int | None = None) -> None:
        """Fail the next ``times`` requests (``None``: all) with ``status`` and ``body``."""
        self.fail_status, self.fail_body, self.fail_times = status, body, times

    async def _record(self, request: web.Request) -> RecordedRequest:
        rec = request[REC] = await read_request(request)
        with self._lock:
            self._records.append(rec)
        return rec

    def _take_failure(self) -> tuple[int, FailBody] | None:
        """``(status, body)`` if this request is to fail (using up one of ``fail_times``)."""
        status, body, times = self.fail_status, self.fail_body, self.fail_times
        if status is None or (times is not None and times <= 0):
            return None
        with self._lock:
            if self.fail_times is not None:
                self.fail_times -= 1
        return status, body

    def _failure(self, error_body: Callable[[int], dict[str, Any]]) -> web.Response | None:
        """The injected failure, if this request is to fail: a dict body (or, when it is None
        or empty, ``error_body(status)``) as JSON, a str/bytes body raw as HTML."""
        if (taken := self._take_failure()) is None:
            return None
        status, body = taken
        if body is None or isinstance(body, dict):
            return web.json_response(body or error_body(status), status=status)
        raw = body.encode() if isinstance(body, str) else body
        return web.Response(body=raw, status=status, content_type="text/html")


def serve_until_interrupted(fake: F, banner: Callable[[F], str]) -> None:
    """Run ``fake`` in the foreground (printing ``banner(fake)`` once it listens) until Ctrl-C."""
    with fake:
        print(banner(fake), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
