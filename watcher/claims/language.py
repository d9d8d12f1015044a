"""Tell Japanese from English text, line by line, so a page with a translation after it is 'mixed'."""

from __future__ import annotations

import re

JAPANESE = "ja"
ENGLISH = "en"
MIXED = "mixed"

_JAPANESE_CHARS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN_LETTERS = re.compile(r"[A-Za-z]")
# A Japanese character carries about as much text as two and a half Latin letters; weighting by it
# keeps "TMS治療はうつ病に有効です" Japanese despite its three capitals.
_LETTERS_PER_JAPANESE_CHAR = 2.5
_MINORITY_SHARE = 0.2


def _weights(text: str) -> tuple[float, float]:
    """(Japanese, Latin) weight of the text in Japanese-character units."""
    return len(_JAPANESE_CHARS.findall(text)), len(_LATIN_LETTERS.findall(text)) / _LETTERS_PER_JAPANESE_CHAR


def detect_language(text: str) -> str:
    """'ja', 'en' or 'mixed' (both languages carry at least a fifth of the text's weight).

    Each line counts for the language that dominates it, so English abbreviations inside Japanese
    lines do not make a Japanese page mixed.
    """
    weights = {JAPANESE: 0.0, ENGLISH: 0.0}
    for line in text.splitlines() or [text]:
        japanese, latin = _weights(line)
        if japanese + latin == 0:
            continue
        weights[JAPANESE if japanese >= latin else ENGLISH] += japanese + latin
    total = weights[JAPANESE] + weights[ENGLISH]
    if total == 0:
        return ENGLISH
    if min(weights.values()) / total >= _MINORITY_SHARE:
        return MIXED
    return JAPANESE if weights[JAPANESE] > weights[ENGLISH] else ENGLISH
