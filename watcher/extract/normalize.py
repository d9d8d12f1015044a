"""Text normalisation shared by the HTML extractor and plain-text documents.

NFKC folds full-width Latin letters and digits, half-width katakana and the ideographic space into
one form, so that a clinic re-typing ``ＴＭＳ`` as ``TMS`` or ``ｴｸｿｿｰﾑ`` as ``エクソソーム`` is not a
change, and so that the claim analyser can match its vocabulary on one spelling.
"""

from __future__ import annotations

import re
import unicodedata

# Invisible characters that CMS editors leave behind (zero-width space, word joiner, soft hyphen,
# a BOM pasted mid-text). They render as nothing, so they must not make two versions differ.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b\u2060\ufeff]")
# C0/C1 controls other than tab/newline: junk from decoding binary or broken pages.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[^\S\n]+")


def normalize_text(text: str) -> str:
    """NFKC, one kind of newline, each line stripped, runs of spaces collapsed, empty lines dropped."""
    text = unicodedata.normalize("NFKC", text)
    # splitlines() also splits on U+2028/U+2029/VT/FF/NEL, which editors paste as line breaks.
    lines = []
    for raw in text.splitlines():
        line = _SPACES.sub(" ", _CONTROLS.sub(" ", _INVISIBLE.sub("", raw))).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def is_wide(char: str) -> bool:
    """East Asian wide or full-width: the characters between which a source newline is not a space.

    CSS Text 3 removes a segment break between two such characters; Japanese HTML is full of
    newlines inside sentences that a browser shows as nothing, so we do the same.
    """
    return unicodedata.east_asian_width(char) in ("W", "F") and not ("\uac00" <= char <= "\ud7af")


_WHITESPACE_RUN = re.compile(r"\s+")


def collapse_whitespace(text: str) -> str:
    """Collapse HTML whitespace the way a browser lays it out, on one line.

    A run of whitespace becomes one space, except a run containing a newline between two wide
    characters, which becomes nothing (``エクソソーム\\n治療`` reads ``エクソソーム治療``).
    """

    def replace(match: re.Match[str]) -> str:
        run = match.group()
        if "\n" in run or "\r" in run:
            start, end = match.start(), match.end()
            if start > 0 and end < len(text) and is_wide(text[start - 1]) and is_wide(text[end]):
                return ""
        return " "

    return _WHITESPACE_RUN.sub(replace, text).strip()
