"""EPay's MD5 signature: the reference test vector and the verification rules."""

from __future__ import annotations

from oneapi_epay import sign, verify

KEY = "1234567"


def test_reference_vector() -> None:
    """go-epay util_test.go: "device=devicev&money=moneyv" + "1234567"."""
    assert sign({"device": "devicev", "money": "moneyv"}, KEY) == "3854cc9f022e0fb821bd2e002260245d"


def test_sign_ignores_sign_fields_empty_values_and_order() -> None:
    base = sign({"money": "moneyv", "device": "devicev"}, KEY)
    assert base == "3854cc9f022e0fb821bd2e002260245d"
    assert (
        sign(
            {"device": "devicev", "money": "moneyv", "param": "", "sign": "x", "sign_type": "MD5"},
            KEY,
        )
        == base
    )


def test_values_are_signed_raw_not_url_encoded() -> None:
    import hashlib

    params = {"name": "TUC 10&x=1", "notify_url": "http://h/a?b=c"}
    text = "name=TUC 10&x=1&notify_url=http://h/a?b=c" + KEY
    assert sign(params, KEY) == hashlib.md5(text.encode()).hexdigest()


def test_verify() -> None:
    params = {"pid": "1001", "money": "73.00", "out_trade_no": "USR1NOabc"}
    good = {**params, "sign": sign(params, KEY), "sign_type": "MD5"}
    assert verify(good, KEY)
    assert verify({**good, "sign": good["sign"].upper()}, KEY)
    assert not verify({**good, "money": "0.01"}, KEY)
    assert not verify({**good, "extra": "1"}, KEY)
    assert not verify(good, "other-key")
    assert not verify({**good, "sign": ""}, KEY)
    assert not verify(params, KEY)
    assert not verify({**good, "sign": "é" * 32}, KEY)
    assert not verify(good, "")
