"""A fake Midjourney-Proxy (novicezk/midjourney-proxy + the "plus" API) on 127.0.0.1.

``FakeMidjourney`` serves the proxy's wire format from an aiohttp app in a background thread,
records every request, and runs each task through a small state machine that advances one
step **each time the task is observed** (``fetch`` or ``list-by-condition``), so tests are
fast and deterministic::

    with FakeMidjourney(secret="mj-secret") as fake:
        fake.outcome = Outcome(steps=("0%", "50%"))        # the default
        # a submitted task shows SUBMITTED 0%, then IN_PROGRESS 50%, then SUCCESS 100%
        fake.queue_outcome(Outcome(fail_reason="banned"))   # the next task fails instead
        fake.inject(23, "队列已满，请稍后尝试")                  # the next submit is refused

Knobs (plain attributes; ``reset()`` restores them): ``secret`` (the ``mj-api-secret`` it
wants; a wrong one gets HTTP 401 with an empty body; None: no check), ``outcome``,
``latency`` (seconds before any answer), ``list_status`` (an HTTP status to answer
list-by-condition with instead of the list), ``image_body`` / ``image_type`` (what
``GET /img/{id}.png`` serves; a 1x1 PNG by default).

Task ids are ``1712345678000001``, ``...002``, ... in every instance, so two fakes hand out
the same ids, as two real proxies may.

Foreground use: ``python -m tests.fakes.midjourney_upstream --port 8082``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.typedefs import Handler

from tests.fakes._server import PNG_1X1, RecordedRequest, ThreadedFake, read_request

FIRST_ID = 1712345678000001
DESCRIBE_TEXT = "1️⃣ a cat on a chair --ar 1:1\n\n2️⃣ a small cat --ar 1:1"
SEED = "2371883942"
_JSON = web.RequestKey("json", dict)
_KNOBS: dict[str, Any] = {"latency": 0.0, "list_status": None, "image_body": PNG_1X1,
                          "image_type": "image/png", "secret": "mj-secret"}
Recorded = RecordedRequest  # what ``FakeMidjourney.requests`` holds


@dataclass(frozen=True)
class Outcome:
    """How a task runs: the progress of each observation, then SUCCESS (or the failure)."""

    steps: tuple[str, ...] = ("0%", "50%")
    fail_reason: str | None = None
    hold: bool = False  # never finishes (for timeouts)
    vanish: bool = False  # never returned by fetch or list-by-condition


@dataclass
class Reply:
    """An injected submit answer (codes 1, 21 and 22 still create a task)."""

    code: int
    description: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    status: int = 200


@dataclass
class FakeTask:
    id: str
    action: str
    prompt: str
    outcome: Outcome
    description: str = ""
    state: str = ""
    notify_hook: str = ""
    status: str = "SUBMITTED"
    seen: int = 0
    submit_time: int = field(default_factory=lambda: int(time.time() * 1000))
    final_prompt: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def view(self, base_url: str) -> dict[str, Any]:
        """The Task object, as of the current step."""
        data: dict[str, Any] = {
            "id": self.id, "action": self.action, "prompt": self.prompt, "promptEn": self.prompt,
            "description": self.description, "state": self.state, "submitTime": self.submit_time,
            "startTime": None, "finishTime": None, "imageUrl": None, "status": self.status,
            "progress": "0%", "failReason": None, "buttons": [],
            "properties": {"discordInstanceId": "1118138338562560102", "notifyHook": self.notify_hook},
        }
        if self.final_prompt:
            data["properties"]["finalPrompt"] = self.final_prompt
        if self.status in ("MODAL", "NOT_START"):
            return {**data, **self.extra}
        steps = self.outcome.steps
        data["startTime"] = self.submit_time + 1
        if self.seen < len(steps) or (self.outcome.hold and steps):
            progress = steps[min(self.seen, len(steps) - 1)]
            data.update(status="SUBMITTED" if progress == "0%" else "IN_PROGRESS", progress=progress)
            if progress != "0%":
                data["imageUrl"] = f"{base_url}/img/{self.id}.png"
        elif self.outcome.fail_reason:
            data.update(status="FAILURE", progress="", failReason=self.outcome.fail_reason,
                        finishTime=self.submit_time + 2)
        else:
            data.update(status="SUCCESS", progress="100%", finishTime=self.submit_time + 2,
                        imageUrl=f"{base_url}/img/{self.id}.png", buttons=_buttons(self.id))
        return {**data, **self.extra}


def _buttons(task_id: str) -> list[dict[str, Any]]:
    digest = f"{int(task_id):x}"
    out = [{"customId": f"MJ::JOB::upsample::{i}::{digest}", "emoji": "", "label": f"U{i}",
            "type": 2, "style": 2} for i in range(1, 5)]
    out += [{"customId": f"MJ::JOB::reroll::0::{digest}::SOLO", "emoji": "🔄", "label": "",
             "type": 2, "style": 2}]
    out += [{"customId": f"MJ::JOB::variation::{i}::{digest}", "emoji": "", "label": f"V{i}",
             "type": 2, "style": 2} for i in range(1, 5)]
    out += [{"customId": f"MJ::CustomZoom::{digest}", "emoji": "🔍", "label": "Custom Zoom",
             "type": 2, "style": 2}]
    return out


def _action_of(custom_id: str) -> str:
    kind = custom_id.split("::")[2] if "::JOB::" in custom_id else custom_id.split("::")[1]
    for prefix, action in (("upsample", "UPSCALE"), ("variation", "VARIATION"),
                           ("reroll", "REROLL"), ("pan", "PAN"), ("Outpaint", "ZOOM")):
        if kind.startswith(prefix):
            return action
    return "ACTION"


class FakeMidjourney(ThreadedFake):
    """A fake Midjourney-Proxy on 127.0.0.1 (see the module docstring)."""

    _knobs = _KNOBS

    def __init__(self, secret: str | None = "mj-secret", port: int = 0, **knobs: Any) -> None:
        self.tasks: dict[str, FakeTask] = {}
        self.requests: list[Recorded] = []
        self.notified: list[dict[str, Any]] = []
        self._ids = itertools.count(FIRST_ID)
        self._outcomes: deque[Outcome] = deque()
        self._replies: deque[Reply] = deque()
        super().__init__(port, secret=secret, **knobs)

    # ----- knobs and inspection ----------------------------------------------------------
    def reset(self) -> None:
        """Forget tasks, requests and queued behaviour; restore every knob; ids start over."""
        with self._lock:
            super().reset()
            self.outcome = Outcome()
            self.tasks.clear()
            self.requests.clear()
            self.notified.clear()
            self._outcomes.clear()
            self._replies.clear()
            self._ids = itertools.count(FIRST_ID)

    def queue_outcome(self, *outcomes: Outcome) -> None:
        """The next tasks run like this (then ``outcome`` again)."""
        with self._lock:
            self._outcomes.extend(outcomes)

    def inject(self, code: int, description: str = "", properties: dict[str, Any] | None = None,
               status: int = 200, times: int = 1) -> None:
        """Answer the next ``times`` submits with this code."""
        with self._lock:
            self._replies.extend(Reply(code, description, dict(properties or {}), status)
                                 for _ in range(times))

    def submits(self, path_suffix: str = "") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == "POST" and "/submit/" in r.path
                    and r.path.endswith(path_suffix)]

    def advance(self, task_id: str, steps: int = 1) -> None:
        """Move a task on as if observed, and call its notifyHook (if any) with it."""
        with self._lock:
            task = self.tasks[task_id]
            task.seen += steps
            view = task.view(self.base_url)
        if task.notify_hook:
            self._call(self._notify(task.notify_hook, view))

    # ----- lifecycle -------------------------------------------------------------------
    def _routes(self, router: web.UrlDispatcher) -> None:
        for name in ("imagine", "change", "simple-change", "action", "modal", "blend",
                     "describe", "shorten", "upload-discord-images"):
            router.add_post(f"/mj/submit/{name}", self._submit)
        router.add_post("/mj/insight-face/swap", self._submit)
        router.add_get("/mj/task/{id}/fetch", self._fetch)
        router.add_get("/mj/task/{id}/image-seed", self._seed)
        router.add_post("/mj/task/list-by-condition", self._list)
        router.add_get("/img/{name}", self._image)

    async def _notify(self, hook: str, view: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as session:
            async with session.post(hook, json=view) as response:
                self.notified.append({"status": response.status, "task": view})

    # ----- requests --------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        rec = await read_request(request)
        with self._lock:
            self.requests.append(rec)
        if self.latency:
            await asyncio.sleep(self.latency)
        if not request.path.startswith("/img/") and self.secret is not None \
                and request.headers.get("mj-api-secret") != self.secret:
            return web.Response(status=401)
        request[_JSON] = rec.json if isinstance(rec.json, dict) else {}
        return await handler(request)

    def _new_task(self, action: str, body: dict[str, Any], prompt: str = "",
                  description: str = "") -> FakeTask:
        outcome = self._outcomes.popleft() if self._outcomes else self.outcome
        task_id = str(next(self._ids))
        task = FakeTask(task_id, action, prompt, outcome, description or f"/{action.lower()} {prompt}",
                        state=str(body.get("state") or ""), notify_hook=str(body.get("notifyHook") or ""))
        self.tasks[task_id] = task
        return task

    @staticmethod
    def _result(code: int, description: str, result: Any = None,
                properties: dict[str, Any] | None = None, status: int = 200) -> web.Response:
        return web.json_response({"code": code, "description": description, "result": result,
                                  "properties": properties or {}}, status=status)

    async def _submit(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = request[_JSON]
        kind = request.path.rsplit("/", 1)[-1]
        with self._lock:
            reply = self._replies.popleft() if self._replies else None
            if reply is not None and reply.code not in (1, 21, 22):
                return self._result(reply.code, reply.description, None, reply.properties, reply.status)
            if kind == "upload-discord-images":
                urls = [f"{self.base_url}/img/upload{i}.png" for i in range(len(body.get("base64Array") or []))]
                return self._result(1, "success", urls)
            made = self._make(kind, body)
            if isinstance(made, web.Response):
                return made
            task, code, description, props = made
            if reply is not None:
                code, description = reply.code, reply.description or description
                props = {**props, **reply.properties}
                if code == 22:
                    task.status = "NOT_START"
                elif code == 21 and props.get("status") == "SUCCESS":
                    task.seen = len(task.outcome.steps)
                    props.setdefault("imageUrl", f"{self.base_url}/img/{task.id}.png")
                elif code == 21:
                    task.status = "MODAL"
            return self._result(code, description or "提交成功", task.id,
                                {"discordInstanceId": "1118138338562560102", **props})

    def _make(self, kind: str, body: dict[str, Any]) -> tuple[FakeTask, int, str, dict[str, Any]] | web.Response:
        if kind in ("imagine", "shorten"):
            prompt = str(body.get("prompt") or "")
            if not prompt:
                return self._result(4, "prompt不能为空")
            task = self._new_task(kind.upper(), body, prompt)
            if kind == "shorten":
                task.final_prompt = DESCRIBE_TEXT
            return task, 1, "提交成功", {}
        if kind in ("blend", "describe", "swap"):
            action = {"swap": "SWAP_FACE"}.get(kind, kind.upper())
            task = self._new_task(action, body)
            if kind == "describe":
                task.final_prompt = DESCRIBE_TEXT
            return task, 1, "提交成功", {}
        if kind == "modal":
            task = self.tasks.get(str(body.get("taskId")))
            if task is None:
                return self._result(3, "关联任务不存在或已失效")
            if task.status != "MODAL":
                return self._result(4, "任务状态错误")
            task.status, task.seen = "SUBMITTED", 0
            return task, 1, "提交成功", {}
        if kind == "simple-change":
            task_id, _, what = str(body.get("content") or "").partition(" ")
            origin_id, action, index = task_id, {"U": "UPSCALE", "V": "VARIATION", "R": "REROLL"}.get(what[:1], ""), what[1:]
        elif kind == "change":
            origin_id, action, index = str(body.get("taskId")), str(body.get("action")), str(body.get("index") or "")
        else:  # action
            origin_id = str(body.get("taskId"))
            custom_id = str(body.get("customId") or "")
            action, index = _action_of(custom_id), ""
            if "::CustomZoom::" in custom_id or "::Inpaint::" in custom_id:
                origin = self.tasks.get(origin_id)
                if origin is None:
                    return self._result(3, "关联任务不存在或已失效")
                task = self._new_task("CUSTOM_ZOOM" if "Zoom" in custom_id else "INPAINT", body, origin.prompt)
                task.status = "MODAL"
                return task, 21, "Waiting for window confirm", {"finalPrompt": origin.prompt, "remix": True}
        origin = self.tasks.get(origin_id)
        if origin is None:
            return self._result(3, "关联任务不存在或已失效")
        if origin.view(self.base_url)["status"] != "SUCCESS":
            return self._result(4, "关联任务状态错误")
        label = f"{action[:1]}{index}" if action != "REROLL" else "R"
        task = self._new_task(action, body, origin.prompt, f"/up {origin_id} {label}")
        return task, 1, "提交成功", {}

    def _observe(self, task_id: str) -> dict[str, Any] | None:
        task = self.tasks.get(task_id)
        if task is None or task.outcome.vanish:
            return None
        view = task.view(self.base_url)
        if task.status not in ("MODAL", "NOT_START"):
            task.seen += 1
        elif task.status == "NOT_START":
            task.status = "SUBMITTED"
        return view

    async def _fetch(self, request: web.Request) -> web.Response:
        with self._lock:
            view = self._observe(request.match_info["id"])
        return web.json_response(view) if view else web.Response(status=200)

    async def _list(self, request: web.Request) -> web.Response:
        if self.list_status is not None:
            return web.json_response({"error": "unavailable"}, status=self.list_status)
        ids = request[_JSON].get("ids") or []
        with self._lock:
            views = [v for v in (self._observe(str(i)) for i in ids) if v]
        return web.json_response(views)

    async def _seed(self, request: web.Request) -> web.Response:
        with self._lock:
            task = self.tasks.get(request.match_info["id"])
        if task is None:
            return self._result(3, "任务不存在")
        return self._result(1, "成功", SEED)

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=self.image_body, content_type=self.image_type)


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Midjourney-Proxy on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--secret", default="mj-secret")
    args = parser.parse_args()
    with FakeMidjourney(secret=args.secret or None, port=args.port) as fake:
        print(f"fake Midjourney-Proxy on {fake.base_url} (mj-api-secret: {args.secret})")
        threading.Event().wait()


if __name__ == "__main__":
    main()
