"""Bytes of a capture or of a file to an ``Extracted``: decode, then HTML or plain text."""

from __future__ import annotations

import re

from watcher.extract.decode import decode_body
from watcher.extract.html import Extracted, extract_main_text
from watcher.extract.language import detect_language
from watcher.extract.normalize import normalize_text
from watcher.extract.selectors import Selectors

_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/xml", "application/xml")
# Files given to `watcher compare` have no Content-Type: a few common tags near the start
# are enough to tell a saved page from a text file.
_LOOKS_LIKE_HTML = re.compile(
    r"<(?:!doctype\s+html|html|head|body|meta|title|div|p|h[1-6]|article|main|section|table|ul|ol|br"
    r"|span|a\s)[\s>/]",
    re.IGNORECASE,
)
_SNIFF_CHARS = 4096


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def is_html(text: str, *, content_type: str | None = None) -> bool:
    media_type = _media_type(content_type)
    if media_type is not None:
        if media_type in _HTML_TYPES or media_type.endswith("+xml"):
            return True
        if media_type == "text/plain":
            return False
    return bool(_LOOKS_LIKE_HTML.search(text[:_SNIFF_CHARS]))


def extract_document(
    body: bytes, *, content_type: str | None = None, url: str | None = None, selectors: Selectors | None = None
) -> Extracted:
    """Decode ``body`` and extract its main text; ``content_type`` None means sniff (files).
    ``selectors`` apply to HTML only; store the text under ``extractor_version(selectors)``."""
    decoded = decode_body(body, content_type=content_type)
    if is_html(decoded.text, content_type=content_type):
        return extract_main_text(decoded.text, url=url, selectors=selectors)
    text = normalize_text(decoded.text)
    return Extracted(title=None, text=text, language=detect_language(text))
