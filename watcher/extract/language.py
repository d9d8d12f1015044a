"""Page language from the script of its main text: 'ja', 'en', 'mixed' or None.

Script counting is enough here: the pages we watch are Japanese, English, or a Japanese post
followed by its English translation, and the claim analyser only needs to know which rule set to
run. A Japanese character carries about as much as three Latin letters, so letters are weighted
down; otherwise the English citations under a Japanese post would make it look bilingual.

The one language detector of the project: the claim analyser labels its profiles with it too
(``watcher.claims.language``).
"""

from __future__ import annotations

import re

from watcher.extract.normalize import count_chars

_LETTERS_PER_JAPANESE_CHAR = 3.0
_MAJORITY = 0.8  # share above which one language is "the" language rather than "mixed"


_JAPANESE = re.compile(
    "[\u3040-\u30ff"  # hiragana, katakana
    "\u31f0-\u31ff"  # katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f]+"  # half-width katakana (before NFKC)
)
# Every byte but the ASCII letters, deleted to count them (``latin_letters``).
_NOT_LETTER_BYTES = bytes(byte for byte in range(256) if not chr(byte).isascii() or not chr(byte).isalpha())


def latin_letters(text: str) -> int:
    """How many of ``text``'s characters are ASCII letters (``[A-Za-z]``): its ASCII characters (the
    rest dropped by the encoder, run by run) less all but the letters, in C, where the count of a
    regular expression's runs matched every English word of the text."""
    return len(text.encode("ascii", "ignore").translate(None, _NOT_LETTER_BYTES))


def detect_language(text: str) -> str | None:
    japanese = count_chars(_JAPANESE, text)
    latin = latin_letters(text)
    if japanese == 0 and latin == 0:
        return None
    english = latin / _LETTERS_PER_JAPANESE_CHAR
    share = japanese / (japanese + english)
    if share >= _MAJORITY:
        return "ja"
    if share <= 1 - _MAJORITY:
        return "en"
    return "mixed"
