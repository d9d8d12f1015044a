"""Text normalisation shared by the vocabulary and the matcher, so both sides compare like with like.

NFKC folds full-width Latin, half-width kana and compatibility forms; a few punctuation marks that
NFKC leaves alone (curly quotes, the Japanese wave dash) are folded too, because clinic pages mix
them freely ("Parkinson’s" / "Parkinson's").
"""

from __future__ import annotations

import re
import unicodedata

_PUNCTUATION = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u301c": "~",  # wave dash
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u3000": " ",
    }
)


_FOLDED_PUNCTUATION = re.compile("[" + "".join(chr(code) for code in _PUNCTUATION) + "]")


def normalise(text: str) -> str:
    """NFKC plus punctuation folding. Idempotent."""
    if text.isascii():
        return text  # ASCII is already NFKC and holds none of the folded marks
    text = unicodedata.normalize("NFKC", text)
    if _FOLDED_PUNCTUATION.search(text):
        text = text.translate(_PUNCTUATION)
    return text


def fold_case(text: str) -> str:
    """Lower-case without changing the length, so match offsets in the folded text index the original.

    ``str.lower`` can lengthen a few characters (``"İ"`` becomes two code points); those keep their case.
    """
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    return "".join(lower if len(lower := char.lower()) == 1 else char for char in text)
