"""How a task looks to an MJ client (Midjourney-Proxy's Task object) and to the web UI."""

from __future__ import annotations

from typing import Any

from oneapi.plugin import Services

from ._image import image_url
from ._models import Midjourney
from ._options import server_address
from ._tasks import FINAL, buttons_of, public_id, public_properties

__all__ = ["api_dict", "image_base", "task_dto"]


def image_base(services: Services, host_url: str) -> str:
    """Where image URLs point: ``ServerAddress``, else the address the request came to."""
    return server_address(services, host_url)


def _url(services: Services, row: Midjourney, base: str) -> str:
    return image_url(
        services.session_secret, base, public_id(row), row.image_url or "",
        final=row.status in FINAL, forward=services.options.bool("MjForwardUrlEnabled"),
    )


def _time(value: int | None) -> int | None:
    return int(value) if value else None


def task_dto(services: Services, row: Midjourney, base: str) -> dict[str, Any]:
    """Midjourney-Proxy's Task object; ``id`` is the gateway's task id."""
    return {
        "id": public_id(row),
        "action": row.action,
        "customId": "",
        "botType": "",
        "prompt": row.prompt or "",
        "promptEn": row.prompt_en or "",
        "description": row.description or "",
        "state": row.state or "",
        "submitTime": _time(row.submit_time),
        "startTime": _time(row.start_time),
        "finishTime": _time(row.finish_time),
        "imageUrl": _url(services, row, base),
        "status": row.status,
        "progress": row.progress,
        "failReason": row.fail_reason or "",
        "buttons": buttons_of(row),
        "maskBase64": "",
        "properties": public_properties(row),
    }


def api_dict(services: Services, row: Midjourney, base: str, admin: bool) -> dict[str, Any]:
    """A task as ``/api/mj`` lists it (snake_case, like the ``midjourneys`` columns)."""
    data: dict[str, Any] = {
        "id": row.id,
        "mj_id": public_id(row),
        "action": row.action,
        "prompt": row.prompt or "",
        "prompt_en": row.prompt_en or "",
        "description": row.description or "",
        "status": row.status,
        "progress": row.progress,
        "image_url": _url(services, row, base),
        "fail_reason": row.fail_reason or "",
        "submit_time": row.submit_time,
        "start_time": row.start_time,
        "finish_time": row.finish_time,
        "quota": row.quota,
        "code": row.code,
        "buttons": buttons_of(row),
        "properties": public_properties(row),
    }
    if admin:
        data.update(user_id=row.user_id, channel_id=row.channel_id, upstream_id=row.mj_id)
    return data
