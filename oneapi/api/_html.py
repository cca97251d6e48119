"""Operator-written HTML (Notice, About, HomePageContent, Footer) without scripts.

One API shows these as raw HTML (or Markdown, or a URL its front-end frames); operators rely
on that. What a stolen admin account could plant for every visitor is taken out: scripts,
event handlers, ``javascript:`` URLs, forms, objects.
"""

from __future__ import annotations

import functools

import nh3

__all__ = ["safe_html"]


@functools.cache
def _rules() -> tuple[set[str], dict[str, set[str]]]:
    tags = set(nh3.ALLOWED_TAGS) | {"iframe", "center", "font", "span", "div", "video", "source"}
    attributes = {tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes.setdefault("*", set()).update({"style", "class", "align", "title"})
    attributes.setdefault("a", set()).update({"href", "target"})
    attributes["iframe"] = {"src", "width", "height", "frameborder", "allowfullscreen"}
    attributes["font"] = {"color", "size", "face"}
    attributes["video"] = {"src", "controls", "width", "height", "poster"}
    attributes["source"] = {"src", "type"}
    return tags, attributes


@functools.lru_cache(maxsize=64)
def safe_html(text: str) -> str:
    """``text`` with every way to run script removed; Markdown and plain text pass unchanged
    (a ``>`` the sanitizer escaped is put back: alone it opens no tag, and it starts
    Markdown's quotes)."""
    if "<" not in text:
        return text
    tags, attributes = _rules()
    cleaned = nh3.clean(text, tags=tags, attributes=attributes, url_schemes={"http", "https", "mailto"},
                        link_rel="noopener noreferrer", strip_comments=True)
    return cleaned.replace("&gt;", ">")
