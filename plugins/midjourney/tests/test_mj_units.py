"""Pure pieces: action parsing, mode prices, signatures."""

from __future__ import annotations

import pytest
from oneapi_midjourney._actions import (
    ParsedAction,
    model_for,
    parse_custom_id,
    parse_simple_change,
    price_model,
)
from oneapi_midjourney._image import image_url, notify_signature, sign, verify


@pytest.mark.parametrize(
    ("custom_id", "expected"),
    [
        ("MJ::JOB::upsample::2::abc", ("UPSCALE", 2)),
        ("MJ::JOB::upsample_v6r1_2x_subtle::1::abc::SOLO", ("UPSCALE", 1)),
        ("MJ::JOB::variation::4::abc", ("VARIATION", 4)),
        ("MJ::JOB::low_variation::1::abc::SOLO", ("LOW_VARIATION", 1)),
        ("MJ::JOB::high_variation::1::abc::SOLO", ("HIGH_VARIATION", 1)),
        ("MJ::JOB::reroll::0::abc::SOLO", ("REROLL", 0)),
        ("MJ::JOB::pan_left::1::abc::SOLO", ("PAN", 1)),
        ("MJ::Outpaint::50::1::abc::SOLO", ("ZOOM", 0)),
        ("MJ::CustomZoom::abc", ("CUSTOM_ZOOM", 0)),
        ("MJ::Inpaint::1::abc::SOLO", ("INPAINT", 0)),
        ("MJ::Job::PicReader::2", ("PIC_READER", 2)),
        ("MJ::Job::PromptAnalyzer::1", ("PROMPT_ANALYZER", 1)),
        ("MJ::BOOKMARK::abc", ("ACTION", 0)),
        ("nonsense", ("ACTION", 0)),
    ],
)
def test_parse_custom_id(custom_id: str, expected: tuple[str, int]) -> None:
    assert parse_custom_id(custom_id) == expected


def test_parse_simple_change() -> None:
    assert parse_simple_change("123 U1") == ParsedAction("123", "UPSCALE", 1)
    assert parse_simple_change(" 123  v4 ") == ParsedAction("123", "VARIATION", 4)
    assert parse_simple_change("123 R") == ParsedAction("123", "REROLL", 0)
    for bad in ("", "123", "123 U5", "123 U", "123 X1", "U1"):
        assert parse_simple_change(bad) is None


def test_model_names_and_mode_prices() -> None:
    assert model_for("IMAGINE") == "mj_imagine" and model_for("SWAP_FACE") == "swap_face"
    priced = {"mj_imagine": 0.1, "mj_fast_imagine": 0.2}
    assert price_model("mj_imagine", "fast", priced) == "mj_fast_imagine"
    assert price_model("mj_imagine", "relax", priced) == "mj_imagine"
    assert price_model("mj_imagine", "", priced) == "mj_imagine"
    assert price_model("swap_face", "fast", {"mj_fast_swap_face": 1}) == "mj_fast_swap_face"


def test_signatures() -> None:
    sig = sign("secret", "42")
    assert verify(sig, sig) and not verify(sig, None) and not verify(sig, "")
    assert sign("other", "42") != sig and sign("secret", "43") != sig
    assert notify_signature("secret", "42") != sig  # a different purpose, a different key
    url = image_url("secret", "https://gw", "42", "https://cdn/x.png", final=True, forward=True)
    assert url == f"https://gw/mj/image/42?sig={sig}"
    assert "&rand=" in image_url("secret", "https://gw", "42", "https://cdn/x.png", False, True)
    assert image_url("secret", "https://gw", "42", "https://cdn/x.png", True, False) == "https://cdn/x.png"
    assert image_url("secret", "https://gw", "42", "", True, True) == ""
