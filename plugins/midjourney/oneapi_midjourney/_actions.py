"""Midjourney actions: their model names (used for channel selection and prices), the
default per-call prices, and the parsers of ``customId`` and ``simple-change`` content."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "DEFAULT_PRICES",
    "MODES",
    "PLUS_MODELS",
    "PROXY_MODELS",
    "ParsedAction",
    "model_for",
    "parse_custom_id",
    "parse_simple_change",
    "price_model",
]

IMAGINE, UPSCALE, VARIATION, REROLL = "IMAGINE", "UPSCALE", "VARIATION", "REROLL"
DESCRIBE, BLEND, SHORTEN, MODAL = "DESCRIBE", "BLEND", "SHORTEN", "MODAL"
ZOOM, CUSTOM_ZOOM, PAN, INPAINT = "ZOOM", "CUSTOM_ZOOM", "PAN", "INPAINT"
HIGH_VARIATION, LOW_VARIATION = "HIGH_VARIATION", "LOW_VARIATION"
SWAP_FACE, UPLOAD, ACTION = "SWAP_FACE", "UPLOAD", "ACTION"
PIC_READER, PROMPT_ANALYZER = "PIC_READER", "PROMPT_ANALYZER"

#: Speed modes selected by the ``/mj-fast``, ``/mj-turbo`` and ``/mj-relax`` path prefixes.
MODES = ("fast", "turbo", "relax")

#: USD per call (new-api's defaults), registered as the plugin's default prices (an admin's
#: ModelPrice overrides them). Actions that only open a modal cost nothing: the following
#: ``/submit/modal`` call is charged as ``mj_modal``. A model priced nowhere is refused.
DEFAULT_PRICES: dict[str, float] = {
    "mj_imagine": 0.1,
    "mj_variation": 0.1,
    "mj_reroll": 0.1,
    "mj_blend": 0.1,
    "mj_modal": 0.1,
    "mj_zoom": 0.1,
    "mj_shorten": 0.1,
    "mj_high_variation": 0.1,
    "mj_low_variation": 0.1,
    "mj_pan": 0.1,
    "mj_action": 0.1,
    "mj_inpaint": 0,
    "mj_custom_zoom": 0,
    "mj_pic_reader": 0,
    "mj_prompt_analyzer": 0,
    "mj_describe": 0.05,
    "mj_upscale": 0.05,
    "swap_face": 0.05,
    "mj_upload": 0.05,
}

#: Models a plain Midjourney-Proxy (type 2) serves; the Plus API (type 5) serves all.
PROXY_MODELS = ("mj_imagine", "mj_upscale", "mj_variation", "mj_reroll", "mj_describe", "mj_blend")
PLUS_MODELS = PROXY_MODELS + (
    "mj_modal", "mj_zoom", "mj_custom_zoom", "mj_pan", "mj_high_variation", "mj_low_variation",
    "mj_inpaint", "mj_shorten", "swap_face", "mj_upload", "mj_pic_reader", "mj_prompt_analyzer",
    "mj_action",
)  # fmt: skip


def model_for(action: str) -> str:
    """The model name of an action: ``mj_`` + lower case (``SWAP_FACE`` is ``swap_face``)."""
    if action == SWAP_FACE:
        return "swap_face"
    return "mj_" + action.lower()


def price_model(model: str, mode: str, priced: set[str] | dict[str, float]) -> str:
    """The model name to price: ``mj_fast_imagine`` if a mode prefix was used and that name
    has a price, else the action's own model name."""
    if not mode:
        return model
    suffix = model.removeprefix("mj_")
    candidate = f"mj_{mode}_{suffix}"
    return candidate if candidate in priced else model


@dataclass(frozen=True, slots=True)
class ParsedAction:
    """What a follow-up request asks for: the origin task, the action and its index."""

    task_id: str
    action: str
    index: int = 0


_SIMPLE = re.compile(r"^\s*(\S+)\s+(?:([UV])([1-4])|(R))\s*$", re.IGNORECASE)


def parse_simple_change(content: str) -> ParsedAction | None:
    """``"<taskId> U1..U4"``, ``"<taskId> V1..V4"`` or ``"<taskId> R"``; None if malformed."""
    match = _SIMPLE.match(content or "")
    if match is None:
        return None
    task_id, kind, index, reroll = match.groups()
    if reroll:
        return ParsedAction(task_id, REROLL, 0)
    return ParsedAction(task_id, UPSCALE if kind.upper() == "U" else VARIATION, int(index))


def parse_custom_id(custom_id: str) -> tuple[str, int]:
    """The action (and index, 0 if none) a button's ``customId`` stands for.

    ``MJ::JOB::upsample::2::hash`` → (UPSCALE, 2); ``MJ::Outpaint::50::1::hash::SOLO`` → ZOOM;
    ``MJ::Job::PicReader::1`` → PIC_READER (new-api refuses these by a case slip);
    any other button → ACTION.
    """
    parts = custom_id.split("::")
    if len(parts) < 2 or parts[0] != "MJ":
        return ACTION, 0
    kind = parts[2] if parts[1].upper() == "JOB" and len(parts) > 2 else parts[1]
    index = _int(parts[3]) if len(parts) > 3 else 0
    lowered = kind.lower()
    if lowered == "picreader":
        return PIC_READER, _int(parts[3]) if len(parts) > 3 else 0
    if lowered == "promptanalyzer":
        return PROMPT_ANALYZER, index
    if lowered.startswith("upsample"):
        return UPSCALE, index
    if lowered == "variation":
        return VARIATION, index
    if lowered == "low_variation":
        return LOW_VARIATION, index
    if lowered == "high_variation":
        return HIGH_VARIATION, index
    if lowered.startswith("pan"):
        return PAN, index
    if "reroll" in lowered:
        return REROLL, 0
    if lowered == "outpaint":
        return ZOOM, 0
    if lowered == "customzoom":
        return CUSTOM_ZOOM, 0
    if lowered == "inpaint":
        return INPAINT, 0
    return ACTION, 0


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
