"""Malformed relay input is refused with a 400 naming the field, before it can fail deep inside
(issue 18); keys longer than any token's are refused before any lookup."""

from __future__ import annotations

from typing import Any

import pytest

from oneapi.auth import MAX_KEY_LENGTH, authenticate_relay
from oneapi.relay.context import RelayContext, RelayError, TokenRecord, UserRecord
from oneapi.relay.modes import check_input
from oneapi.tokenizer import Tokenizer


def _ctx(mode: str, payload: dict[str, Any]) -> RelayContext:
    return RelayContext(request_id="r", mode=mode, endpoint="/x",
                        token=TokenRecord(1, 1, "k", "t", 1, -1, 0, True, None, ()),
                        user=UserRecord(1, "u", 1, 1, "default", 0), model="m", body=b"{}",
                        content_type="application/json", payload=payload)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


HI = [{"role": "user", "content": "hi"}]
REFUSED = [
    ("chat", {"messages": HI, "n": "2"}, "n"),
    ("chat", {"messages": HI, "n": [1]}, "n"),
    ("chat", {"messages": HI, "n": 10**40}, "n"),
    ("chat", {"messages": HI, "n": 1e40}, "n"),
    ("chat", {"messages": HI, "n": 0}, "n"),
    ("chat", {"messages": HI, "n": True}, "n"),
    ("chat", {"messages": HI, "n": 129}, "n"),
    ("chat", {"messages": HI, "max_tokens": 2**62}, "max_tokens"),
    ("chat", {"messages": HI, "max_completion_tokens": 2**31}, "max_completion_tokens"),
    ("chat", {"messages": HI, "stream_options": 5}, "stream_options"),
    ("chat", {"messages": HI, "stream_options": [1]}, "stream_options"),
    ("chat", {"messages": HI, "stream_options": "yes"}, "stream_options"),
    ("chat", {"messages": HI, "tools": 5}, "tools"),
    ("chat", {"messages": HI, "tools": {"type": "function"}}, "tools"),
    ("chat", {"messages": HI, "functions": "f"}, "functions"),
    ("chat", {"messages": ["hi"]}, "messages"),
    ("chat", {"messages": [5, {"role": "user", "content": "x"}]}, "messages"),
    ("chat", {"messages": [None]}, "messages"),
    ("completions", {"prompt": "hi", "n": "2"}, "n"),
    ("completions", {"prompt": _nested(3)}, "prompt"),
    ("embeddings", {"input": _nested(500)}, "input"),
    ("embeddings", {"input": [[1, 2], [3, [4]]]}, "input"),
    ("moderations", {"input": _nested(5)}, "input"),
]
ACCEPTED = [
    ("chat", {"messages": HI, "n": 2, "max_tokens": 100, "stream_options": {"include_usage": True}, "tools": []}),
    ("chat", {"messages": HI, "n": None, "stream_options": None, "tools": None, "max_tokens": 2**31 - 1}),
    ("completions", {"prompt": [[1, 2, 3], [4]], "n": 128}),
    ("embeddings", {"input": "text"}),
    ("embeddings", {"input": ["a", "b"]}),
    ("embeddings", {"input": [[1, 2], [3, 4]]}),
    ("embeddings", {"input": [{"text": "a"}, {"image": "https://img.example/a.png"}]}),  # multimodal providers
    ("moderations", {"input": [{"type": "text", "text": "x"}]}),
]


@pytest.mark.parametrize(("mode", "payload", "param"), REFUSED)
def test_malformed_fields_are_a_400_naming_the_field(mode: str, payload: dict[str, Any], param: str) -> None:
    with pytest.raises(RelayError) as caught:
        check_input(_ctx(mode, payload))
    assert (caught.value.status, caught.value.param, caught.value.type) == (400, param, "invalid_request_error")


@pytest.mark.parametrize(("mode", "payload"), ACCEPTED)
def test_well_formed_requests_pass(mode: str, payload: dict[str, Any]) -> None:
    check_input(_ctx(mode, payload))


def test_counting_deeply_nested_input_needs_no_recursion() -> None:
    tok = Tokenizer(approximate=True)
    assert tok.count_input("m", _nested(100_000)) == 1
    # "abcd" 1, ids 1 and 2, "abcdefgh" 2, True and 7 one each as before; objects count nothing
    assert tok.count_input("m", ["abcd", [1, 2, ["abcdefgh", True]], 7, {"x": "y"}]) == 1 + 2 + 2 + 1 + 1


class _Lookups:
    """A cache that records the keys looked up."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def token(self, key: str) -> TokenRecord | None:
        self.keys.append(key)
        return None


@pytest.mark.parametrize("key", ["a" * 49, "b" * 4096, "c" * 65536, "d" * 48 + "-12", "e" * 20 + "-" + "9" * 40])
async def test_keys_longer_than_any_token_are_refused_before_any_lookup(key: str) -> None:
    cache = _Lookups()
    for header in (f"Bearer sk-{key}", f"sk-{key}", key):
        with pytest.raises(RelayError) as caught:
            await authenticate_relay(cache, header, "127.0.0.1")  # type: ignore[arg-type]
        assert (caught.value.status, caught.value.code) == (401, "invalid_api_key")
        assert key[:20] not in caught.value.message
    assert [k for k in cache.keys if len(k) > MAX_KEY_LENGTH] == []
    if key.startswith("d"):  # 48 characters and a channel id: looked up (then unknown)
        assert cache.keys == ["d" * 48] * 3
    else:
        assert cache.keys == []
