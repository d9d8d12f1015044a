"""The dashboard's Jinja2 environment: autoescaping always on (every template, every extension),
undefined variables are errors, and the small filters the templates share.

Nothing here marks text as safe: scraped text reaches the templates as plain strings and leaves
them escaped. Highlighting (search hits, evidence sentences) is done by splitting text into
``(text, css_class)`` pieces that the templates wrap in ``<mark>`` elements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi.templating import Jinja2Templates

from watcher.claims.vocabulary import indication_labels
from watcher.describe import STRENGTH_WORDS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def indication_ja(indication: str | None) -> str | None:
    """The Japanese name of an indication id (統合失調症 for schizophrenia), if the vocabulary has one."""
    if not indication:
        return None
    return indication_labels().get(indication, (None, None))[1]


def indication_name(indication: str | None) -> str:
    if not indication:
        return ""
    return indication.replace("_", " ")


def strength_word(value: Any) -> str:
    if value is None:
        return "not claimed"
    return STRENGTH_WORDS.get(int(value), str(value))


def when(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A date in UTC; accepts datetimes and ISO strings."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(fmt)


def http_url(value: str | None) -> str | None:
    """The URL when it is http(s) — the only links to other sites the dashboard makes."""
    if not value:
        return None
    parts = urlsplit(value)
    return value if parts.scheme in {"http", "https"} and parts.netloc else None


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")


def text_lang(text: str | None) -> str:
    """``ja`` for text with kana or kanji (so that browsers pick Japanese glyphs), else ``en``."""
    return "ja" if text and _JAPANESE.search(text) else "en"


def kind_label(kind: str | None) -> str:
    return (kind or "").replace("_", " ")


def short_hash(value: str | None, length: int = 12) -> str:
    return (value or "")[:length]


def human_size(value: int | None) -> str:
    if value is None:
        return "—"
    if value < 1024:
        return f"{value} B"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KiB"
    return f"{value / 1024 / 1024:.1f} MiB"


def link(path: str, **params: Any) -> str:
    """``path?query`` without the empty parameters (for filter and paging links)."""
    kept = [(key, str(value)) for key, value in params.items() if value not in (None, "", False)]
    return f"{path}?{urlencode(kept)}" if kept else path


def highlight(text: str, needles: Iterable[tuple[str, str]]) -> list[tuple[str, str | None]]:
    """Split ``text`` into pieces, tagging those that match a needle with its class. ``needles`` are
    (needle, css class) pairs, matched case-insensitively; earlier needles win on overlaps."""
    spans: list[tuple[int, int, str]] = []
    for needle, css in needles:
        if not needle or not needle.strip():
            continue
        for found in re.finditer(re.escape(needle.strip()), text, re.IGNORECASE):
            if all(found.end() <= start or found.start() >= end for start, end, _ in spans):
                spans.append((found.start(), found.end(), css))
    spans.sort()
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for start, end, css in spans:
        if start > position:
            pieces.append((text[position:start], None))
        pieces.append((text[start:end], css))
        position = end
    if position < len(text):
        pieces.append((text[position:], None))
    return pieces


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # all templates, whatever their extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        {
            "strength_word": strength_word,
            "when": when,
            "http_url": http_url,
            "kind_label": kind_label,
            "short_hash": short_hash,
            "human_size": human_size,
            "indication_ja": indication_ja,
            "indication_name": indication_name,
            "text_lang": text_lang,
        }
    )
    env.globals.update({"link": link, "highlight": highlight, "strength_words": STRENGTH_WORDS})
    return Jinja2Templates(env=env)
