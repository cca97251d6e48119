"""Reading a submit request: which action it is, its checks, its origin task (for follow-up
actions, scoped to the user), and the body to send upstream."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from oneapi.plugin import ChannelRecord

from . import _actions as A
from ._image import notify_signature
from ._models import Midjourney
from ._tasks import find_for_user

__all__ = ["MjError", "Plan", "ROUTES", "plan_submit", "upstream_body"]

#: route name → upstream path (the same path without any mode prefix).
ROUTES: dict[str, str] = {
    "imagine": "/mj/submit/imagine",
    "change": "/mj/submit/change",
    "simple-change": "/mj/submit/simple-change",
    "action": "/mj/submit/action",
    "modal": "/mj/submit/modal",
    "blend": "/mj/submit/blend",
    "describe": "/mj/submit/describe",
    "shorten": "/mj/submit/shorten",
    "upload-discord-images": "/mj/submit/upload-discord-images",
    "swap": "/mj/insight-face/swap",
}
_NEW_TASK_ACTIONS = {"imagine": A.IMAGINE, "blend": A.BLEND, "describe": A.DESCRIBE,
                     "shorten": A.SHORTEN, "swap": A.SWAP_FACE, "upload-discord-images": A.UPLOAD}
_DIMENSIONS = ("PORTRAIT", "SQUARE", "LANDSCAPE")
_MODE_FLAGS = re.compile(r"\s*--(?:fast|relax|turbo)\b", re.IGNORECASE)


class MjError(Exception):
    """Answered in Midjourney-Proxy's shape ``{code, description, result, properties}``."""

    def __init__(self, status: int, code: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


@dataclass
class Plan:
    """One submit, checked: the action, the model that prices and selects it, the origin."""

    route: str
    action: str
    index: int
    body: dict[str, Any]
    origin: Midjourney | None = None
    prompt: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return A.model_for(self.action)

    @property
    def path(self) -> str:
        return ROUTES[self.route]


def _bad(description: str) -> MjError:
    return MjError(400, 4, description)


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"{key} must be a string")
    return value


def _images(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _bad(f"{key} must be a list of data URLs")
    return value


def _check_new_task(route: str, body: dict[str, Any]) -> str:
    """Checks of the routes that start a new task; returns the task's prompt."""
    if route in ("imagine", "shorten"):
        prompt = _text(body, "prompt")
        if not prompt.strip():
            raise _bad("prompt is required")
        _images(body, "base64Array")
        return prompt
    if route == "blend":
        images = _images(body, "base64Array")
        if not 2 <= len(images) <= 5:
            raise _bad("base64Array must hold 2 to 5 images")
        dimensions = _text(body, "dimensions")
        if dimensions and dimensions not in _DIMENSIONS:
            raise _bad("dimensions must be PORTRAIT, SQUARE or LANDSCAPE")
        return ""
    if route == "describe":
        if not (_text(body, "base64") or _text(body, "link")):
            raise _bad("base64 (a data URL) or link is required")
        return ""
    if route == "swap":
        if not (_text(body, "sourceBase64") or _text(body, "sourceUrl")):
            raise _bad("sourceBase64 is required")
        if not (_text(body, "targetBase64") or _text(body, "targetUrl")):
            raise _bad("targetBase64 is required")
        return "InsightFace"
    if not _images(body, "base64Array"):  # upload-discord-images
        raise _bad("base64Array is required")
    return ""


async def _origin(user_id: int, task_id: str, check_success: bool, need_success: bool) -> Midjourney:
    if not task_id:
        raise _bad("taskId is required")
    origin = await find_for_user(user_id, task_id)
    if origin is None:
        raise MjError(404, 3, f"task_not_found: no task {task_id}")
    if check_success and need_success and origin.status != "SUCCESS":
        raise _bad(f"task_status_not_success: task {task_id} is {origin.status or 'not started'}")
    return origin


async def plan_submit(user_id: int, route: str, body: dict[str, Any], check_success: bool) -> Plan:
    """Check a submit request and find its origin task; MjError when it cannot be relayed."""
    if route in _NEW_TASK_ACTIONS:
        prompt = _check_new_task(route, body)
        return Plan(route, _NEW_TASK_ACTIONS[route], 0, body, prompt=prompt)
    if route == "change":
        action = _text(body, "action").upper()
        index = body.get("index")
        if action not in (A.UPSCALE, A.VARIATION, A.REROLL):
            raise _bad("action must be UPSCALE, VARIATION or REROLL")
        if action != A.REROLL and (not isinstance(index, int) or not 1 <= index <= 4):
            raise _bad("index must be 1 to 4")
        origin = await _origin(user_id, _text(body, "taskId"), check_success, True)
        return Plan(route, action, index if isinstance(index, int) else 0, body, origin,
                    origin.prompt or "")
    if route == "simple-change":
        parsed = A.parse_simple_change(_text(body, "content"))
        if parsed is None:
            raise _bad("content must be '<taskId> U1..U4', '<taskId> V1..V4' or '<taskId> R'")
        origin = await _origin(user_id, parsed.task_id, check_success, True)
        plan = Plan(route, parsed.action, parsed.index, body, origin, origin.prompt or "")
        plan.extra["suffix"] = "R" if parsed.action == A.REROLL else f"{parsed.action[0]}{parsed.index}"
        return plan
    if route == "action":
        custom_id = _text(body, "customId")
        if not custom_id:
            raise _bad("customId is required")
        action, index = A.parse_custom_id(custom_id)
        origin = await _origin(user_id, _text(body, "taskId"), check_success, True)
        return Plan(route, action, index, body, origin, origin.prompt or "")
    if route == "modal":
        origin = await _origin(user_id, _text(body, "taskId"), check_success, False)
        prompt = _text(body, "prompt")
        return Plan(route, A.MODAL, 0, body, origin, prompt or origin.prompt or "")
    raise MjError(404, 4, f"unknown submit route {route}")


def upstream_body(
    plan: Plan, channel: ChannelRecord, options: Any, mode: str, notify: tuple[str, str] | None
) -> dict[str, Any]:
    """The body to send upstream: the origin's upstream id instead of ours, the client's
    notifyHook and accountFilter dropped (unless allowed), mode flags cleared if asked.

    ``notify`` is (gateway address, session secret) when the gateway's own hook is wanted;
    the hook needs the task id, so it is filled in by the caller through ``extra``.
    """
    body = dict(plan.body)
    if plan.origin is not None:
        if plan.route == "simple-change":
            body["content"] = f"{plan.origin.mj_id} {plan.extra['suffix']}"
        else:
            body["taskId"] = plan.origin.mj_id
    body.pop("notifyHook", None)
    if notify is not None and plan.extra.get("task_id"):
        base, secret = notify
        task_id = plan.extra["task_id"]
        body["notifyHook"] = f"{base}/mj/notify?id={task_id}&sig={notify_signature(secret, task_id)}"
    if not options.bool("MjAccountFilterEnabled"):
        body.pop("accountFilter", None)
    if options.bool("MjModeClearEnabled") and isinstance(body.get("prompt"), str):
        body["prompt"] = _MODE_FLAGS.sub("", body["prompt"]).strip()
    if mode and channel.type == 5:  # the Plus API picks an account of that speed
        account_filter = body.get("accountFilter")
        account_filter = dict(account_filter) if isinstance(account_filter, dict) else {}
        account_filter.setdefault("modes", [mode.upper()])
        body["accountFilter"] = account_filter
    return body
