"""Aho-Corasick automata over the vocabulary's surface forms, built once at import.

A sentence is scanned once: the automaton reports every occurrence of every form in the case-folded
text; English forms must sit on word boundaries; exact forms (abbreviations such as ASD or MS) must
match the original case; where matches overlap the longest wins, so 躁うつ病 is bipolar disorder and
not depression, "side effects" is not "effects", and a stop form (うつ伏せ) hides the form inside it.

Superlative, testimonial and recruitment markers and clause breaks form a second layer that overlaps
the first freely: "最も効果的" is both a superlative and an effect, 「…ていませんが、」 both a negation and
a clause break. Safety markers stay in the first layer, because
「副作用がない」 must hide the disclaimer word 副作用 and the negation ない inside it.

Two lexicons: ``SENTENCES`` (cues, markers, indications, treatments) for every sentence, and
``HEADINGS`` (section-role words such as 適応症 or "Conditions we treat") for heading-like lines only,
so that "we treat" in a heading does not compete with "treat" in a sentence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from typing import NamedTuple, TypeVar

import ahocorasick

from watcher.claims.vocabulary import HEADING_KINDS, Entry, load_vocabulary, match_key
from watcher.extract.normalize import fold_case, normalise

# Structural punctuation the clause rules need; not vocabulary, so not in the data files.
COMMA = "comma"
BREAK = "clause_break"
# A Japanese full stop, "?" and "!" inside a text end one sentence's clauses (「…とは?…見込める治療」).
_PUNCTUATION_TERMS = {",": COMMA, "、": COMMA, ";": BREAK, ":": COMMA, "。": BREAK, "?": BREAK, "!": BREAK}

# Kinds whose matches may overlap any other: markers that also read as claims ("最も効果的"), and clause
# breaks that share characters with a negation (「…ていませんが、」).
OVERLAPPING_KINDS = frozenset({"superlative", "testimonial", "recruitment", "clause_break"})
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_DIGITS = frozenset("0123456789")
# What may follow a participle used as a verb: determiners, prepositions, conjunctions (and -ly adverbs).
VERB_FOLLOWERS = frozenset({
    "a", "an", "the", "this", "these", "that", "those", "its", "their", "his", "her", "our", "your", "in", "by",
    "to", "from", "after", "with", "over", "among", "during", "for", "following", "at", "on", "within", "across",
    "through", "via", "and", "or", "but", "than", "when", "while", "as", "compared", "since", "until", "both",
})  # fmt: skip
# Words before a participle that make it an adjective when a noun follows: "show increased activity".
ADJECTIVE_CONTEXT = frozenset({
    "", "a", "an", "the", "with", "of", "in", "to", "for", "by", "from", "and", "or", "more", "less", "show",
    "shows", "showed", "shown", "have", "has", "had", "having", "their", "its", "is", "are", "was", "were",
    "be", "been", "this", "these", "that", "our", "any", "no", "not", "cause", "causes", "caused", "reveal",
    "revealed", "reveals", "find", "found", "finds", "see", "saw", "seen",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Term:
    """What one surface form means."""

    kind: str
    entry_id: str
    level: int | None
    group: str | None
    english: bool  # ASCII-only forms: word boundaries apply, negation precedes them
    length: int
    exact: str | None  # the original-case form that must match, for abbreviations
    left_boundary: bool
    right_boundary: bool
    after_number: bool
    verb_only: bool  # an English participle that counts only when used as a verb
    layer: int  # matches compete for the longest only within their layer
    checked: bool = False  # any match rule beyond the automaton applies (worked out from the fields above)
    special: bool = False  # one of ``_special_fits``'s rules applies (the same)

    def __post_init__(self) -> None:
        special = self.exact is not None or self.after_number or self.verb_only
        object.__setattr__(self, "special", special)
        object.__setattr__(self, "checked", special or self.left_boundary or self.right_boundary)


class Hit(NamedTuple):
    start: int
    end: int
    term: Term


_Value = TypeVar("_Value")

# Hits are made in the innermost loop: tuple.__new__ through partial skips the NamedTuple's Python __new__.
_new_hit = partial(tuple.__new__, Hit)
_START = itemgetter(0)


class Lexicon:
    """One automaton and the matching rules around it."""

    def __init__(self, entries: Iterable[Entry], *, punctuation: bool) -> None:
        entries = list(entries)
        pairs = [pair for entry in entries for pair in _terms(entry)]
        if punctuation:
            pairs += [
                (mark, Term(kind, kind, None, None, False, 1, None, False, False, False, False, 0))
                for mark, kind in _PUNCTUATION_TERMS.items()
            ]
        examples = (text for entry in entries for text in (*entry.examples.positive, *entry.examples.negative))
        self._automaton = ahocorasick.Automaton()
        keys: dict[str, list[str]] = {}
        for key, term in frequent_first(pairs, examples):
            self._automaton.add_word(key, term)  # a key given twice keeps its last term, as it did unsorted
            keys.setdefault(term.kind, []).append(key)
        self._keys = {kind: tuple(dict.fromkeys(found)) for kind, found in keys.items()}
        self._automaton.make_automaton()

    def may_find(self, kind: str, folded: str) -> bool:
        """False when no form of ``kind`` occurs in ``folded`` (the case-folded text), so that ``scan``
        finds no match of that kind there: a cheap test before a scan that looks for one kind only."""
        return any(key in folded for key in self._keys.get(kind, ()))

    def scan(self, text: str, folded: str | None = None) -> list[Hit]:
        """Non-overlapping matches in ``text`` (already normalised), ordered by position."""
        if folded is None:
            folded = fold_case(text)
        found: list[Hit] = []
        size = len(folded)
        for last, term in self._automaton.iter(folded):
            end = last + 1
            start = end - term.length
            if term.checked:
                # Word boundaries, the common rule (an English form inside a longer word), tested here rather
                # than by a call per match; then the rarer rules.
                if term.left_boundary and start and folded[start - 1] in _WORD_CHARS:
                    continue
                if term.right_boundary and end < size and folded[end] in _WORD_CHARS:
                    continue
                if term.special and not _special_fits(term, text, folded, start, end):
                    continue
            found.append(_new_hit((start, end, term)))
        if len(found) < 2:
            return found
        return _longest_first(found)


def frequent_first(pairs: Iterable[tuple[str, _Value]], examples: Iterable[str]) -> list[tuple[str, _Value]]:
    """The (key, value) pairs of an automaton, those whose key starts with a character that is frequent in
    ``examples`` first (stable: pairs of one key keep their order, so the last value still wins).

    The automaton finds the next state by a linear search of a node's children, in the order they were
    added, and most characters of a text are tried at the root: adding the frequent first characters
    first makes that search short (about 40 % fewer instructions over clinic pages than in data order).
    The order changes no match."""
    counts: Counter[str] = Counter()
    for example in examples:
        counts.update(fold_case(normalise(example)))
    return sorted(pairs, key=lambda pair: -counts[pair[0][:1]])


def _special_fits(term: Term, text: str, folded: str, start: int, end: int) -> bool:
    """The match rules beyond the automaton and the word boundaries: exact case, a number before, a verb."""
    if term.exact is not None and text[start:end] != term.exact:
        return False
    if term.after_number and not _after_number(folded, start):
        return False
    return not (term.verb_only and not _used_as_verb(folded, start, end))


def _after_number(folded: str, start: int) -> bool:
    """A digit right before the match, or before one space ("27 of 30", "90%")."""
    if start > 0 and folded[start - 1] in _DIGITS:
        return True
    return start > 1 and folded[start - 1] == " " and folded[start - 2] in _DIGITS


def _used_as_verb(folded: str, start: int, end: int) -> bool:
    """Is the participle at ``start:end`` a verb ("sleep increased in", "the drug increased potency") rather
    than an adjective before its noun ("show increased activity", "with increased risk")?"""
    following = _word_after(folded, end)
    if not following or following in VERB_FOLLOWERS or following.endswith("ly"):
        return True
    return _word_before(folded, start) not in ADJECTIVE_CONTEXT


def _word_after(folded: str, end: int) -> str:
    index = end
    while index < len(folded) and folded[index] == " ":
        index += 1
    stop = index
    while stop < len(folded) and folded[stop].isascii() and folded[stop].isalpha():
        stop += 1
    return folded[index:stop]


def _word_before(folded: str, start: int) -> str:
    index = start
    while index > 0 and folded[index - 1] == " ":
        index -= 1
    begin = index
    while begin > 0 and folded[begin - 1].isascii() and folded[begin - 1].isalpha():
        begin -= 1
    return folded[begin:index]


def _terms(entry: Entry) -> list[tuple[str, Term]]:
    pairs = [_term(entry, form, kind=entry.kind, exact=False, after_number=False) for form in entry.forms]
    pairs += [_term(entry, form, kind=entry.kind, exact=True, after_number=False) for form in entry.exact_forms]
    pairs += [_term(entry, form, kind=entry.kind, exact=False, after_number=True) for form in entry.after_number_forms]
    pairs += [
        _term(entry, form, kind=entry.kind, exact=False, after_number=False, verb_only=True)
        for form in entry.verb_forms
    ]
    pairs += [_term(entry, form, kind="blocker", exact=False, after_number=False) for form in entry.stop_forms]
    return pairs


def _term(
    entry: Entry, form: str, *, kind: str, exact: bool, after_number: bool, verb_only: bool = False
) -> tuple[str, Term]:
    key = match_key(form, exact=False)
    layer = 1 if entry.kind in OVERLAPPING_KINDS or entry.overlap else 0
    return key, Term(
        kind=kind,
        entry_id=entry.id,
        level=entry.level,
        group=entry.group,
        english=key.isascii(),
        length=len(key),
        exact=match_key(form, exact=True) if exact else None,
        left_boundary=key[0] in _WORD_CHARS,
        right_boundary=key[-1] in _WORD_CHARS,
        after_number=after_number,
        verb_only=verb_only,
        layer=layer,
    )


def _longest_first(found: list[Hit]) -> list[Hit]:
    # By start, longest first among equal starts: the automaton reports by end, so reversing orders by
    # end descending, and a stable sort by start keeps that among equal starts (two hits never share
    # both start and end: one key is one term).
    found.reverse()
    found.sort(key=_START)
    ends = [0, 0]
    for hit in found:
        layer = hit.term.layer
        if hit.start < ends[layer]:
            break
        ends[layer] = hit.end
    else:
        return found  # nothing overlaps: the common case
    found.sort(key=_longest)
    # Characters taken by a kept match, per layer: a match is kept when none of its characters is taken.
    size = max(hit.end for hit in found)
    taken = [bytearray(size), bytearray(size)]
    kept: list[Hit] = []
    for hit in found:
        occupied = taken[hit.term.layer]
        if not any(occupied[hit.start : hit.end]):
            occupied[hit.start : hit.end] = b"\x01" * (hit.end - hit.start)
            kept.append(hit)
    kept.sort(key=_by_start)
    return kept


def _longest(hit: Hit) -> tuple[int, int]:
    return hit.start - hit.end, hit.start


def _by_start(hit: Hit) -> tuple[int, int]:
    return hit.start, -hit.end


_VOCABULARY = load_vocabulary()
# Question openers only matter as a sentence's first word(s), so they are a set, not automaton words.
QUESTION_OPENERS = frozenset(
    match_key(form, exact=False) for entry in _VOCABULARY.of_kind("question_opener") for form in entry.forms
)
SENTENCES = Lexicon(
    (entry for entry in _VOCABULARY.entries if entry.kind not in HEADING_KINDS | {"question_opener"}),
    punctuation=True,
)
HEADINGS = Lexicon(_VOCABULARY.of_kind(*HEADING_KINDS), punctuation=False)
