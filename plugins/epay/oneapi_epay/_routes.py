"""EPay's callback route: ``/api/user/epay/notify`` (GET and POST, as providers differ).

The reply is the plain text ``success`` only when the core has committed the credit (or the
order was already credited); anything else is ``fail`` and makes the provider retry.
The ``return_url`` is the top-up page of the UI: it only displays and never credits.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel
from quart import Blueprint, Response, request

from oneapi.plugin import CREDITED, PaymentError, Services

from ._provider import NOTIFY_PATH, EpayProvider

__all__ = ["blueprint"]

log = logging.getLogger("oneapi.epay")

#: Generous for EPay's dozen short fields; anything bigger is not a notice.
_MAX_PARAMS = 64
_MAX_VALUE = 1024


class EpayNotice(BaseModel):
    """An EPay notify (sent form-encoded by POST, or as the query of a GET)."""

    pid: str
    trade_no: str
    out_trade_no: str
    type: str
    name: str = ""
    money: str
    trade_status: str
    param: str = ""
    sign: str
    sign_type: str = "MD5"


_DOC = {
    "summary": "EPay notify (provider → gateway): signed parameters by GET query or POST form; "
    "answers the text success (credited, now or before) or fail",
    "body": EpayNotice,
    "body_media_type": "application/x-www-form-urlencoded",
    "query": {name: "EPay notify parameter (GET)" for name in EpayNotice.model_fields},
    "response_text": ["success", "fail"],
}


def _reply(text: str) -> Response:
    return Response(text, status=200, content_type="text/plain; charset=utf-8")


async def _params() -> dict[str, str]:
    """Query parameters (GET) or the form body (POST; the query if the body has none)."""
    source = request.args
    if request.method == "POST":
        form = await request.form
        if form:
            source = form
    params = {k: source.get(k, "") for k in source.keys()}
    if len(params) > _MAX_PARAMS or any(len(v) > _MAX_VALUE for v in params.values()):
        raise PaymentError("the notice is too large")
    return params


def blueprint(services: Services) -> Blueprint:
    bp = Blueprint("epay", __name__)

    @bp.route(NOTIFY_PATH, methods=["GET", "POST"])
    async def notify() -> Response:
        provider = services.payment_provider(EpayProvider.name)
        if not isinstance(provider, EpayProvider):
            return _reply("fail")
        peer = request.remote_addr or "?"
        try:
            params = await _params()
            notice = provider.verify_callback(params, services)
        except PaymentError as exc:
            log.warning("epay notify from %s refused: %s", peer, exc.message)
            return _reply("fail")
        except Exception:
            log.exception("epay notify from %s could not be read", peer)
            return _reply("fail")
        try:
            outcome = await services.credit_order(notice)
        except PaymentError as exc:
            log.warning(
                "epay notify for order %s from %s not credited: %s",
                notice.trade_no,
                peer,
                exc.message,
            )
            return _reply("fail")
        except Exception:
            log.exception("epay notify for order %s failed", notice.trade_no)
            return _reply("fail")
        log.info(
            "epay notify for order %s: %s",
            notice.trade_no,
            "credited" if outcome == CREDITED else "already credited",
        )
        return _reply("success")

    notify.api_doc = _DOC  # type: ignore[attr-defined]  # read by /api/openapi.json
    return bp
