"""Text normalisation: the one place that folds the spellings of a text into one form.

NFKC folds full-width Latin letters and digits, half-width katakana and the ideographic space into
one form, so that a clinic re-typing ``ＴＭＳ`` as ``TMS`` or ``ｴｸｿｿｰﾑ`` as ``エクソソーム`` is not a
change, and so that the claim analyser can match its vocabulary on one spelling.

- ``normalize_text``: the stored form of extracted text (HTML and plain-text documents): NFKC, lines
  stripped, invisible and control characters dropped.
- ``normalise``: the form the claim analyser matches on, for its vocabulary and for page text alike:
  NFKC plus the punctuation marks NFKC leaves alone (curly quotes, the Japanese wave dash, dashes,
  no-break spaces), which clinic pages mix freely ("Parkinson’s" / "Parkinson's").
- ``fold_case``: lower case that keeps offsets.

It lives with the extractor because the extractor normalises first, in the order the data flows;
the analyser (``watcher.claims``) imports it from here, and nothing here imports the analyser.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Invisible characters that CMS editors leave behind (zero-width space, word joiner, soft hyphen,
# a BOM pasted mid-text). They render as nothing, so they must not make two versions differ.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b\u2060\ufeff]")
# C0/C1 controls other than tab/newline: junk from decoding binary or broken pages.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[^\S\n]+")
# What ``_clean_line`` would change (an invisible or control character, whitespace other than a
# space and "\n", a run of spaces) or ``splitlines`` split on besides "\n" (all of them whitespace
# or controls): a text without any is cleaned by splitting on "\n" and stripping spaces.
# The whitespace other than " " and "\n" (``[^\S\n ]``), listed: re's ``\s`` and ``str.isspace`` are the
# same set, and none of it lies above U+3000. One character class (no alternative) lets the search skip
# to its candidates in C; the alternation it replaces tried a match at every space of the text.
_OTHER_SPACES = "".join(char for char in map(chr, range(0x3001)) if char.isspace() and char not in "\n ")
_UNCLEAN_CHAR = re.compile("[\u00ad\u180e\u200b\u2060\ufeff\x00-\x08\x0b-\x1f\x7f-\x9f" + _OTHER_SPACES + "]")
# A long text is substituted piece by piece (``_in_pieces``): a regex substitution holds one string
# per match and per gap until it joins them, about 60 MB for a 5 MB paragraph of words.
PIECE_CHARS = 1 << 16
_WORD_PAIR = re.compile(r"\w\w")


def _in_pieces(text: str, transform: Callable[[str], str]) -> str:
    """``transform(text)``, applied to pieces of about ``PIECE_CHARS`` characters of a long text, each cut
    between two word characters: no substitution here matches a word character or looks past one
    (whitespace runs, controls, invisible characters and the neighbours of a line break are whole
    within a piece), so the result is the same, with the memory of one piece at a time."""
    if len(text) <= PIECE_CHARS:
        return transform(text)
    pieces = []
    start = 0
    while start < len(text):
        pair = _WORD_PAIR.search(text, start + PIECE_CHARS)
        cut = pair.start() + 1 if pair else len(text)
        pieces.append(transform(text[start:cut]))
        start = cut
    return "".join(pieces)


def count_chars(runs: re.Pattern[str], text: str) -> int:
    """How many characters of ``text`` the pattern ``runs`` (a character class with ``+``, such as
    ``[A-Za-z]+``) matches: counted in C (a Python loop over a 5 MB page takes seconds) as the length
    the text loses when its runs are removed (one substitution per run, not per character), piece by
    piece (a substitution on the whole text would hold a string per gap, tens of MB on a big page)."""
    return sum(
        len(piece) - len(runs.sub("", piece))
        for piece in (text[start : start + PIECE_CHARS] for start in range(0, len(text), PIECE_CHARS))
    )


def _clean_line(line: str) -> str:
    return _SPACES.sub(" ", _CONTROLS.sub(" ", _INVISIBLE.sub("", line)))


def nfkc(text: str) -> str:
    """Unicode NFKC; ASCII is already in that form, and most page lines are checked cheaply for it."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def normalize_text(text: str) -> str:
    """NFKC, one kind of newline, each line stripped, runs of spaces collapsed, empty lines dropped."""
    text = nfkc(text)
    if "  " not in text and not _UNCLEAN_CHAR.search(text):
        # Nothing for ``_clean_line`` to change and no line break but "\n" (the common case): one scan.
        return "\n".join(stripped for line in text.split("\n") if (stripped := line.strip(" ")))
    # splitlines() also splits on U+2028/U+2029/VT/FF/NEL, which editors paste as line breaks.
    lines = []
    for raw in text.splitlines():
        line = _in_pieces(raw, _clean_line).strip()
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
_OTHER_RUN = re.compile(r"\s{2,}|[^\S ]")  # the whitespace runs other than a single space: whole, greedy
_OTHER_SPACE = re.compile(r"[^\S ]")


def collapse_whitespace(text: str) -> str:
    """Collapse HTML whitespace the way a browser lays it out, on one line.

    A run of whitespace becomes one space, except a run containing a newline between two wide
    characters, which becomes nothing (``エクソソーム\\n治療`` reads ``エクソソーム治療``).
    """

    return _in_pieces(text, _collapse_runs).strip()


def _collapse_runs(text: str) -> str:
    if "\n" not in text and "\r" not in text:
        # Every run becomes one space, no callback per run; a run that is one space already is left
        # alone (not matched), so a line of words is not cut and joined again at each of its spaces.
        if "  " not in text and not _OTHER_SPACE.search(text):
            return text  # spaces one at a time only (most inline text): found by a scan, not a match each
        return _OTHER_RUN.sub(" ", text)

    def replace(match: re.Match[str]) -> str:
        run = match.group()
        if "\n" in run or "\r" in run:
            start, end = match.start(), match.end()
            if start > 0 and end < len(text) and is_wide(text[start - 1]) and is_wide(text[end]):
                return ""
        return " "

    return _WHITESPACE_RUN.sub(replace, text)


# --- the claim analyser's matching form ---------------------------------------------------------

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
    """NFKC plus punctuation folding: the claim analyser's matching form. Idempotent."""
    if text.isascii():
        return text  # ASCII is already NFKC and holds none of the folded marks
    text = nfkc(text)
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
