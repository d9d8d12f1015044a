"""Cut extracted text into blocks (one per line) and paragraphs into sentences.

Input format (the project's extractor, or a plain text capture): one block per line; ``#``..``######``
plus a space starts a heading (the level is the count of ``#``); ``- `` (or another bullet, or ``1.``)
starts a list item; table cells are joined by `` | ``; anything else is a paragraph; blank lines are
kept because in plain captures they end a list. A plain capture wrapped mid-sentence is joined again: an
English line starting in lower case continues a paragraph line that has no sentence end.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

HEADING = "heading"
ITEM = "item"
ROW = "row"
PARAGRAPH = "paragraph"
BLANK = "blank"

_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
# "- item", "* item", "• item", "・item", "1. item", "1) item", "(1) item"; a "※" note is a paragraph.
_BULLET = re.compile(r"^(?:[-*+]\s+|[•・●○■□◆◇▶►▸✓✔]\s*|\(?\d{1,3}[.)]\s+|\(\d{1,3}\)\s*)")
_TABLE_SEPARATOR = " | "
_LINE_END = (".", "!", "?", "。", ":", ";")

_OPENERS = "「『(（[【"
_CLOSERS = "」』)）]】"
_TRAILING = "」』)）]】\"'"
_SENTENCE_END = "。!?"
# The only characters split_sentences looks at, found by one compiled scan instead of a loop per character.
_MARKS = re.compile("[" + re.escape(_OPENERS + _CLOSERS + _SENTENCE_END + ".") + "]")
_TRAILING_RUN = re.compile("[" + re.escape(_TRAILING + _SENTENCE_END) + "]*")
_NOT_SPACE = re.compile(r"\S")
# Paragraphs split once and kept (LRU; longer ones are split every time, so a long page is not held): a
# page's paragraphs are split for the profile and read again by the regulation review, and a site's
# shared ones recur; 1,024 keep both (see CACHE_SIZE in watcher.claims.strength).
CACHED_PARAGRAPHS = 1024
CACHED_PARAGRAPH_CHARS = 2000
_ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "prof", "e.g", "i.e", "etc", "vs", "fig", "no", "al", "approx", "st", "inc", "ltd",
    "jr", "sr", "dept", "univ", "vol", "pp", "ca", "cf", "ref", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec",
})  # fmt: skip


class Block(NamedTuple):  # one a line of every page: a named tuple is the cheapest immutable record
    kind: str
    text: str
    level: int  # heading level 1-6, else 0
    line: int  # 0-based line number in the input


def parse_blocks(text: str) -> list[Block]:
    """One block per line; ``text`` should already be normalised."""
    blocks: list[Block] = []
    for number, raw in enumerate(text.splitlines()):
        line = raw.strip()
        if not line:
            blocks.append(Block(BLANK, "", 0, number))
            continue
        heading = _HEADING.match(line)
        if heading:
            blocks.append(Block(HEADING, heading.group(2).strip(), len(heading.group(1)), number))
            continue
        bullet = _BULLET.match(line)
        if bullet and len(line) > bullet.end():
            blocks.append(Block(ITEM, line[bullet.end() :].strip(), 0, number))
            continue
        if _TABLE_SEPARATOR in line:
            blocks.append(Block(ROW, line, 0, number))
            continue
        previous = blocks[-1] if blocks else None
        if previous is not None and _continues(previous, line):
            # a plain capture wrapped mid-sentence: "TMS is expected to" / "improve depression."
            blocks[-1] = Block(PARAGRAPH, f"{previous.text} {line}", 0, previous.line)
            continue
        blocks.append(Block(PARAGRAPH, line, 0, number))
    return blocks


def _continues(previous: Block, line: str) -> bool:
    """An English line that starts in lower case continues the paragraph line before it when that one
    stopped without a sentence end."""
    return (
        previous.kind == PARAGRAPH and line[0].isascii() and line[0].islower() and not previous.text.endswith(_LINE_END)
    )


def split_sentences(text: str) -> list[str]:
    """Split a paragraph after 。!? and after English full stops, never inside brackets or quotes."""
    if len(text) <= CACHED_PARAGRAPH_CHARS:
        return list(_split_cached(text))
    return _split(text)


@lru_cache(maxsize=CACHED_PARAGRAPHS)
def _split_cached(text: str) -> tuple[str, ...]:
    # The profile builder and the regulation review split the same paragraphs, and pages repeat theirs.
    return tuple(_split(text))


def _split(text: str) -> list[str]:
    sentences: list[str] = []
    depth = 0
    start = 0
    resume = 0
    for mark in _MARKS.finditer(text):
        index = mark.start()
        if index < resume:
            continue
        char = text[index]
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0 and (char != "." or english_stop(text, index)):
            end = _TRAILING_RUN.match(text, index + 1).end()  # type: ignore[union-attr]
            piece = text[start:end].strip()
            if piece:
                sentences.append(piece)
            start = resume = end
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def english_stop(text: str, index: int) -> bool:
    """A full stop ends a sentence when a space and a capital (or digit, quote, Japanese) follow, and the
    word before it is not an abbreviation or an initial."""
    following = index + 1
    if following >= len(text):
        return True
    if not text[following].isspace():
        return False
    # The next non-space character, found without copying the rest of the text (a copy per full stop
    # made a long single-line page quadratic).
    found = _NOT_SPACE.search(text, following)
    if found is None:
        return False
    first = found.group()
    if not (first.isupper() or first.isdigit() or first in "\"'(「" or ord(first) > 0x3000):
        return False
    word_start = index
    while word_start > 0 and (text[word_start - 1].isalpha() or text[word_start - 1] == "."):
        word_start -= 1
    word = text[word_start:index].lower()
    if word in _ABBREVIATIONS:
        return False
    return not (len(word) == 1 and text[word_start].isupper())
