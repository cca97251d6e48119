"""oneapi.crypto: secrets at rest (issue 18), without a gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oneapi import crypto


@pytest.fixture(autouse=True)
def _plaintext_after() -> Iterator[None]:
    yield
    crypto.configure("")


def test_round_trip_is_authenticated_and_bound_to_its_column() -> None:
    crypto.configure("a-crypto-secret-of-some-length")
    sealed = crypto.seal("sk-upstream", crypto.CHANNEL_KEY)
    assert sealed.startswith("enc:v1:") and "sk-upstream" not in sealed
    assert crypto.seal("sk-upstream", crypto.CHANNEL_KEY) != sealed  # a fresh nonce each time
    assert crypto.reveal(sealed, crypto.CHANNEL_KEY) == "sk-upstream"
    with pytest.raises(crypto.SecretError, match="does not decrypt"):
        crypto.reveal(sealed, crypto.option_context("SMTPToken"))  # copied into another column
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    for broken in (flipped, "enc:v1:", "enc:v1:!!!", "enc:v1:AAAA"):
        with pytest.raises(crypto.SecretError, match="the key of channel 7"):
            crypto.reveal(broken, crypto.CHANNEL_KEY, "the key of channel 7")
    assert crypto.seal("", crypto.CHANNEL_KEY) == ""  # nothing to hide


def test_plaintext_passes_and_other_secrets_are_named() -> None:
    assert not crypto.enabled()
    assert crypto.seal("sk-plain", crypto.CHANNEL_KEY) == "sk-plain"  # One API's way
    assert crypto.reveal("sk-plain", crypto.CHANNEL_KEY) == "sk-plain"
    crypto.configure("first-crypto-secret-0123")
    sealed = crypto.seal("v", crypto.option_context("EpayKey"))
    assert crypto.reveal("sk-plain", crypto.CHANNEL_KEY) == "sk-plain"  # legacy rows still read
    crypto.configure("other-crypto-secret-0123")
    with pytest.raises(crypto.SecretError, match="another CRYPTO_SECRET"):
        crypto.reveal(sealed, crypto.option_context("EpayKey"), "option EpayKey")
    crypto.configure("")
    with pytest.raises(crypto.SecretError, match="CRYPTO_SECRET is not set"):
        crypto.reveal(sealed, crypto.option_context("EpayKey"), "option EpayKey")


def test_secret_options_are_listed() -> None:
    assert {"SMTPToken", "GitHubClientSecret", "TurnstileSecretKey"} <= crypto.SECRET_OPTIONS
    assert "TurnstileSiteKey" not in crypto.SECRET_OPTIONS and "GitHubClientId" not in crypto.SECRET_OPTIONS
