"""How strongly one sentence claims an effect: the 0-4 ladder of DESIGN.md §4.

    0  none, negated, excluded, a question, a condition, a disclaimer
    1  possibility         可能性があります, かもしれません, may, might, could
    2  expected/attributed  期待されています, 示唆されています, と言われています, suggests, promising
    3  direct assertion    改善します, 効果があります, 有効です, improves, is effective
    4  proof/statistics    証明されています, 有意な改善, 90%の患者, 必ず, 完治, proven, cures, guaranteed

A sentence is cut into clauses at contrast words (が、/しかし/ただし/but/however) and at semicolons; each
clause is scored and the sentence takes its strongest clause, so "not proven, but may help" is 1 and
"proven; results vary" is still 4.

Inside a clause:

- Content cues say what is claimed: an effect (3), a proof or cure word (4), an expected benefit (2).
  An intensifier (significant, 90% of patients, 必ず, 確実に) lifts the content to 4. Without content
  the clause claims nothing (a mechanism sentence "inflammation is involved in depression" is 0).
- Modifiers cap it: a hedge at 1, attributed or reported speech at 2 (so a proof word inside
  「…という報告もあります」 is 2). Japanese puts the deciding expression at the end of the clause
  (文末表現), so the last Japanese modifier sets the cap (可能性が示唆されています is 2, 示唆されている可能性が
  あります is 1); in English the outermost modifier comes first ("findings suggest a possible role" is 2,
  "may be promising" is 1). The writer's own judgement only lowers the cap (可能性があると考えられます is 1).
- Negation removes the cues it governs: a Japanese negation (ません, ない, なかった) governs the cues
  before it back to the previous comma (a topic comma, 「…は、」, does not stop it); an English one (not,
  no, never, n't) the cues after it up to the next comma, at most eight words on. A negated proof,
  finding or report ("has not been demonstrated", 確認されていません) takes the clause's whole claim with
  it, and a negated proof or intensifier is recorded as a ``not_proven`` caveat.
- A condition removes the cues inside the conditional clause: English "if/unless/whether" up to the
  next comma, Japanese 〜場合/〜れば/〜たら/かどうか back to the previous comma.
- An association ("associated with", "linked to") caps what follows it at 0: a correlation is not an
  effect.
- A limitation, disclaimer or exclusion zeroes the clause (and is reported as a caveat or an
  exclusion by the profile); so does the page talking about itself (「…について解説します」).

Questions (a final ?, a Japanese final か, a "Q." prefix, an English interrogative opening) are 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watcher.claims.lexicon import BREAK, COMMA, QUESTION_OPENERS, SENTENCES, Hit
from watcher.claims.vocabulary import LEVEL_KINDS, MARKER_KINDS
from watcher.extract.normalize import fold_case, normalise

CONTENT_KINDS = frozenset({"effect", "causal", "proof", "expectation"})
THERAPEUTIC_KINDS = frozenset({"effect", "proof", "expectation"})
MODIFIER_KINDS = frozenset({"hedge", "attribution", "expectation", "judgement"})
ZEROING_KINDS = frozenset({"limitation", "disclaimer", "exclusion", "meta"})
# Every cue that sets a level, and the markers, can be negated ("not proven", 副作用がないとは言えません).
NEGATABLE_KINDS = LEVEL_KINDS | MARKER_KINDS
PROOF_KINDS = frozenset({"proof", "intensifier"})
_CLAIM_CARRIERS = frozenset({"proof", "intensifier", "assertion", "attribution"})
NOT_PROVEN = "not_proven"

_ENGLISH_NEGATION_WORDS = 8
_QUESTION_PREFIX = re.compile(r"^\s*(?:Q\s*\d*\s*[.:)\-]|Q\s|質問\s*\d*\s*[.:]|問\s*\d+)")
_CLOSERS = " \t」』)]}\"'>】。"
_JAPANESE_QUESTION_BEFORE_KA = frozenset("すうのるたいんがだ")


@dataclass(frozen=True, slots=True)
class Clause:
    start: int
    end: int
    level: int
    therapeutic: bool  # a non-negated effect, proof or expectation cue (or the implicit list claim)
    excluded: bool
    negated: bool  # content that a negation removed
    caveats: tuple[str, ...]  # groups of limitation/disclaimer cues, and ``not_proven``


@dataclass(frozen=True, slots=True)
class Mention:
    """An indication, treatment or marker found in the sentence."""

    kind: str
    entry_id: str
    group: str | None
    level: int | None
    clause: int
    start: int


@dataclass(frozen=True, slots=True)
class SentenceAssessment:
    text: str
    level: int
    question: bool
    clauses: tuple[Clause, ...]
    indications: tuple[Mention, ...]
    treatments: tuple[Mention, ...]
    markers: tuple[Mention, ...]  # safety/testimonial/superlative/recruitment, not negated, not in questions

    def claim_level(self, clause: int) -> int:
        """The strength the clause claims: 0 in a question, whatever its words."""
        return 0 if self.question else self.clauses[clause].level

    @property
    def caveats(self) -> tuple[str, ...]:
        return tuple(group for clause in self.clauses for group in clause.caveats)

    @property
    def excluded(self) -> bool:
        return any(clause.excluded for clause in self.clauses)


def sentence_strength(text: str, lang: str | None = None) -> int:
    """The 0-4 strength of one sentence. ``lang`` is accepted for symmetry with ``analyze``; the rules
    follow each cue's own language, so mixed Japanese/English sentences need no hint."""
    return assess(text).level


def assess(text: str, *, implicit_level: int | None = None, normalised: bool = False) -> SentenceAssessment:
    """Score one sentence or list item.

    ``implicit_level`` is the claim a list item inherits from a heading such as 「適応症」 or
    "Conditions we treat": a clause with no content cue of its own claims that level (its own
    hedges, negations and exclusions still apply).
    """
    norm = text if normalised else normalise(text)
    folded = fold_case(norm)
    hits = SENTENCES.scan(norm, folded)
    question = _is_question(norm, folded)
    bounds = _clause_bounds(hits, len(norm))
    clauses: list[Clause] = []
    indications: list[Mention] = []
    treatments: list[Mention] = []
    markers: list[Mention] = []
    for index, (start, end) in enumerate(bounds):
        in_clause = [hit for hit in hits if start <= hit.start < end]
        discarded = _conditional(in_clause, start, end)
        negated = _negated(in_clause, norm, discarded)
        clauses.append(_score(in_clause, start, end, discarded, negated, implicit_level))
        for position, hit in enumerate(in_clause):
            kind = hit.term.kind
            if kind == "indication":
                indications.append(_mention(hit, index))
            elif kind == "treatment":
                treatments.append(_mention(hit, index))
            elif kind in MARKER_KINDS and not question and position not in negated | discarded:
                markers.append(_mention(hit, index))
    level = 0 if question else max((clause.level for clause in clauses), default=0)
    return SentenceAssessment(
        text=norm,
        level=level,
        question=question,
        clauses=tuple(clauses),
        indications=tuple(indications),
        treatments=tuple(treatments),
        markers=tuple(markers),
    )


def _mention(hit: Hit, clause: int) -> Mention:
    term = hit.term
    return Mention(term.kind, term.entry_id, term.group, term.level, clause, hit.start)


def _clause_bounds(hits: list[Hit], size: int) -> list[tuple[int, int]]:
    cuts = [0]
    for hit in hits:
        if hit.term.kind == BREAK and hit.start > cuts[-1]:
            cuts.append(hit.start)
    cuts.append(size)
    return [(cuts[i], cuts[i + 1]) for i in range(len(cuts) - 1)]


def _conditional(in_clause: list[Hit], start: int, end: int) -> set[int]:
    """Positions (in ``in_clause``) of cues inside a conditional clause."""
    discarded: set[int] = set()
    for position, hit in enumerate(in_clause):
        if hit.term.kind != "condition":
            continue
        if hit.term.english:
            # "if it works, ..." : from the condition word to the next comma
            stop = next(
                (other.start for other in in_clause[position + 1 :] if other.term.kind == COMMA),
                end,
            )
            discarded.update(i for i, other in enumerate(in_clause) if hit.start < other.start < stop)
        else:
            # 「効果が認められた場合は」: back from the condition word to the previous comma
            begin = start
            for other in in_clause[:position]:
                if other.term.kind == COMMA:
                    begin = other.end
            discarded.update(i for i, other in enumerate(in_clause) if begin <= other.start < hit.start)
    return discarded


def _negated(in_clause: list[Hit], norm: str, discarded: set[int]) -> set[int]:
    """Positions (in ``in_clause``) of cues a negation governs."""
    negated: set[int] = set()
    for position, hit in enumerate(in_clause):
        if hit.term.kind != "negation" or position in discarded:
            continue
        if hit.term.english:
            for later in range(position + 1, len(in_clause)):
                other = in_clause[later]
                if other.term.kind == COMMA:
                    break
                if norm.count(" ", hit.end, other.start) >= _ENGLISH_NEGATION_WORDS:
                    break
                if other.term.kind in NEGATABLE_KINDS and other.start >= hit.end:
                    negated.add(later)
        else:
            for earlier in range(position - 1, -1, -1):
                other = in_clause[earlier]
                if other.term.kind == COMMA and not _topic_comma(norm, other.start):
                    break
                if other.term.kind in NEGATABLE_KINDS:
                    negated.add(earlier)
    # "The benefit ... has not been demonstrated", 「有効性は…確認されていません」: a negated proof,
    # finding or report takes the whole clause's claim with it.
    carriers = [position for position in negated if in_clause[position].term.kind in _CLAIM_CARRIERS]
    if carriers:
        last = max(carriers)
        negated.update(position for position, hit in enumerate(in_clause[:last]) if hit.term.kind in CONTENT_KINDS)
    return negated


def _treatment_follows(in_clause: list[Hit], position: int) -> bool:
    return any(hit.term.kind == "treatment" for hit in in_clause[position + 1 : position + 4])


def _topic_comma(norm: str, comma: int) -> bool:
    """「有効性は、…ません」: the comma after a topic (は, について) does not end the negation's reach."""
    before = norm[max(0, comma - 4) : comma]
    return before.endswith(("は", "について", "に関して"))


def _score(
    in_clause: list[Hit],
    start: int,
    end: int,
    discarded: set[int],
    negated: set[int],
    implicit_level: int | None,
) -> Clause:
    content = 0
    therapeutic = False
    intensified = False
    zeroed = False
    excluded = False
    correlated = False
    negated_content = False
    caveats: list[str] = []
    english_cap: int | None = None
    japanese_cap: int | None = None
    judgement_cap = 4
    for position, hit in enumerate(in_clause):
        term = hit.term
        kind = term.kind
        if position in discarded:
            continue
        if position in negated:
            if kind in CONTENT_KINDS:
                negated_content = True
            if kind in PROOF_KINDS and NOT_PROVEN not in caveats:
                caveats.append(NOT_PROVEN)
            continue
        if kind in ZEROING_KINDS:
            zeroed = True
            if kind == "exclusion":
                excluded = True
            elif kind != "meta" and term.group and term.group not in caveats:
                caveats.append(term.group)
            continue
        if kind == "correlation":
            correlated = True
            continue
        if kind == "role" and not correlated and _treatment_follows(in_clause, position):
            # "suggests a role for exosome therapy in Parkinson's disease" (but not "a role for
            # inflammation in depression")
            content = max(content, term.level or 0)
            therapeutic = True
        if kind in CONTENT_KINDS and not correlated:
            level = term.level or 0
            content = max(content, level)
            therapeutic = therapeutic or kind in THERAPEUTIC_KINDS
        elif kind == "intensifier":
            intensified = True
        if kind in MODIFIER_KINDS:
            level = term.level or 0
            # The outermost modifier decides: in English it comes first ("findings suggest a possible
            # role" is 2), in Japanese last (可能性が示唆されています is 2). The writer's own judgement
            # (「可能性があると考えられます」) only ever lowers the cap.
            if kind == "judgement":
                judgement_cap = min(judgement_cap, level)
            elif term.english:
                english_cap = level if english_cap is None else english_cap
            else:
                japanese_cap = level
    if not content and implicit_level is not None and not negated_content and not correlated:
        content = implicit_level
        therapeutic = True
    if content and intensified:
        content = 4
    cap = min(judgement_cap, 4 if english_cap is None else english_cap, 4 if japanese_cap is None else japanese_cap)
    level = 0 if zeroed else min(content, cap)
    return Clause(
        start=start,
        end=end,
        level=level,
        therapeutic=therapeutic and level > 0,
        excluded=excluded,
        negated=negated_content,
        caveats=tuple(caveats),
    )


def _is_question(norm: str, folded: str) -> bool:
    tail = norm.rstrip(_CLOSERS)
    if tail.endswith("?"):
        return True
    if tail.endswith("か") and len(tail) > 1 and tail[-2] in _JAPANESE_QUESTION_BEFORE_KA:
        return True
    if _QUESTION_PREFIX.match(norm):
        return True
    if tail.endswith((".", "!", "。")):
        return False
    words = folded.split(maxsplit=2)
    return bool(words) and (words[0] in QUESTION_OPENERS or " ".join(words[:2]) in QUESTION_OPENERS)
