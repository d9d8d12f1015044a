"""How strongly one sentence claims an effect: the 0-4 ladder of DESIGN.md §4.

    0  none, negated, excluded, a question, a condition, a disclaimer, research stage alone
    1  possibility         可能性があります, かもしれません, may, might, could; research stage + an effect
    2  expected/attributed  期待されています, 示唆されています, と言われています, suggests, promising, 例もあります
    3  direct assertion    改善します, 効果があります, 有効です, improves, is effective, "we offer X to patients
                           with Y", 良好な結果, がん細胞を殺す, "TMS can help with OCD"
    4  proof/statistics    証明されています, 有意な改善, 90%の患者, 反応率65%, 必ず, 完治, 適応が認められています,
                           FDA-cleared, proven, cures, guaranteed, "can say with certainty"

A sentence is cut into clauses at contrast words (が、/しかし/ただし/but/however), at semicolons and, in
a text of several sentences, at each sentence end (「。」, an English full stop before the next sentence);
each clause is scored and the sentence takes its strongest clause, so "not proven, but may help" is 1
and "proven; results vary" is still 4.

Inside a clause:

- Content cues say what is claimed: an effect (3), a proof or cure word (4), an expected benefit (2).
  An intensifier (significant, 90% of patients, 必ず, 確実に) lifts the content to 4. Without content
  the clause claims nothing (a mechanism sentence "inflammation is involved in depression" is 0).
- Modifiers cap it: a hedge at 1, attributed or reported speech at 2 (so a proof word inside
  「…という報告もあります」 is 2). The lowest cap wins: a possibility stays a possibility whatever reports
  or expects it (可能性が示唆されています, "studies suggest it may help" are 1). Approval wording and outcome
  statistics (反応率, "response rate" with a number) are not capped by a report, only by a hedge.
- A research-stage qualifier (研究段階, 検討の段階, "experimental", "early stage") anywhere in the sentence
  caps it at 1 and is an ``experimental`` caveat: the floor of the ladder. An offer counts only with an
  indication in its clause and no test beside it; "can" with a named treatment or indication states an
  ability (no cap), with a causal verb a possibility (1), otherwise a general ability (2).
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

``sentence_certainty`` refines the level for comparisons: ``(level, -hedges)``, where ``hedges`` counts the
possibility words (may, could, potentially, 可能性, かもしれません, and "can" however it is read) in the
strongest clause. Between two texts on the same level the less hedged one is the more certain: "could
potentially help" → "could help", "TMS can significantly improve mood" → "TMS significantly improves mood".
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any, NamedTuple

from watcher.claims.lexicon import BREAK, COMMA, QUESTION_OPENERS, SENTENCES, Hit
from watcher.claims.segment import english_stop
from watcher.claims.site_cache import WORD, CompactStore
from watcher.claims.vocabulary import LEVEL_KINDS, MARKER_KINDS
from watcher.extract.normalize import fold_case, normalise

CONTENT_KINDS = frozenset({"effect", "causal", "proof", "expectation", "approval", "statistic", "offer", "endorsement"})
THERAPEUTIC_KINDS = CONTENT_KINDS - {"causal"}
OFFER_LEVEL = 3
# Approval and outcome statistics stay what they are when reported (「…と報告されています」): only a hedge
# or a research-stage qualifier lowers them.
AUTHORITATIVE_KINDS = frozenset({"approval", "statistic"})
MODIFIER_KINDS = frozenset({"hedge", "attribution", "expectation", "judgement"})
ZEROING_KINDS = frozenset({"limitation", "disclaimer", "exclusion", "meta"})
# Every cue that sets a level, and the markers, can be negated ("not proven", 副作用がないとは言えません).
NEGATABLE_KINDS = LEVEL_KINDS | MARKER_KINDS
RESEARCH_STAGE = "research_stage"
RESEARCH_STAGE_CAP = 1
# Clause assessments kept (LRU): enough for a site's shared sentences (they come back page after page and
# stay); a page's own sentences are not met again before they are evicted (a changed page comes a round
# later), so a larger cache only holds more of them: 8,192 gave the same hits on 1,000 generated pages as
# 2,048 and held 9 MB instead of 2 (with the paragraphs of watcher.claims.segment), which made a check of
# 5,000 pages peak 10-20 % above one of 500. At about 1 KB each, this stays near 2 MB.
CACHE_SIZE = 1 << 11
# Behind the LRU, every sentence met (``_assess``), compact: about 64 bytes each (table slot and record)
# instead of 1 KB, so that a changed page finds its unchanged sentences a round later (capture_rounds.py's
# 500 pages: 6,669 sentences, 0.46 MB). Emptied when it reaches 16,384 sentences or 512K record words
# (about 1.4 MB in all at most; a site of more pages starts it again now and then and finds fewer): with
# 131,072 (capture_rounds.py's 5,000 pages, 63,980 sentences, 4.1 MB) the service's peak RSS at 5,000 pages
# was 10-12 % above 500's, with 32,768 5-9 % (benchmarks/README.md, side by side, 2026-12-04).
# Keyed by the 64-bit ``hash`` of the text and level, and the text's length checked: two texts that share
# both are a chance of about one in 10^14 per lookup.
SITE_ASSESSMENTS = CompactStore(max_records=1 << 14, max_words=1 << 19)
_STORE_LOCK = threading.Lock()
PROOF_KINDS = frozenset({"proof", "intensifier"})
_CLAIM_CARRIERS = frozenset({"proof", "intensifier", "assertion", "attribution"})
NOT_PROVEN = "not_proven"
# The kinds ``_score`` acts on; the others (names, punctuation, markers) only feed the mentions.
_SCORED_KINDS = (
    CONTENT_KINDS
    | MODIFIER_KINDS
    | ZEROING_KINDS
    | PROOF_KINDS
    | {
        RESEARCH_STAGE,
        "correlation",
        "role",
        "ability",
    }
)

# The kinds that ``_assess_anew`` collects as mentions.
_MENTION_KINDS = MARKER_KINDS | {"indication", "treatment"}

# No cue discarded by a condition, or governed by a negation (shared: never changed).
_NO_POSITIONS: frozenset[int] = frozenset()

_ENGLISH_NEGATION_WORDS = 8
_QUESTION_PREFIX = re.compile(r"^\s*(?:Q\s*\d*\s*[.:)\-]|Q\s|質問\s*\d*\s*[.:]|問\s*\d+)")
_CLOSERS = " \t」』)]}\"'>】。"
_JAPANESE_QUESTION_BEFORE_KA = frozenset("すうのるたいんがだ")
_DIGIT = re.compile(r"\d")
_FULL_STOP = re.compile(r"\.(?=\s)")
_OPENING_BRACKETS = frozenset("「『(【")
_CLOSING_BRACKETS = frozenset("」』)】")
_DEFINITION_ENDINGS = ("とは", "って何", "とは何")


# Clauses and mentions are made for every new sentence: named tuples, built without a frozen dataclass's
# attribute setting per field.
class Clause(NamedTuple):
    start: int
    end: int
    level: int
    therapeutic: bool  # a non-negated effect, proof or expectation cue (or the implicit list claim)
    excluded: bool
    negated: bool  # content that a negation removed
    caveats: tuple[str, ...]  # groups of limitation/disclaimer cues, and ``not_proven``
    cue: str = ""  # the cue(s) that decided ``level``: 「改善 + 有意」, "may help, capped by may"
    hedges: int = 0  # possibility words in a claiming clause (may, could, 可能性, can); 0 at level 0


class Mention(NamedTuple):
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

    measurement: bool = False  # names a level or concentration ("NAD+ levels fall by 50%")

    @property
    def certainty(self) -> tuple[int, int]:
        """``(level, -hedges)`` of the strongest clause: the level first, then, between two texts on the
        same level, the one whose claim carries fewer possibility words is the more certain ("could
        potentially help" < "could help", "can improve" < "improves", both at their level). A question
        or a text that claims nothing is ``(0, 0)``. Compare the tuples: the larger is the stronger."""
        if self.question:
            return (0, 0)
        return max(((clause.level, -clause.hedges) for clause in self.clauses), default=(0, 0))

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


def sentence_certainty(text: str) -> tuple[int, int]:
    """A finer ``sentence_strength``: ``(level, -hedges)``, see ``SentenceAssessment.certainty``. Two texts
    on the same level differ when one softens its claim with more possibility words ("may", "could",
    "potentially", 可能性, "can"): a sentence that drops its "may" or its "can" and stays on its level
    still became more certain."""
    return assess(text).certainty


def assess(text: str, *, implicit_level: int | None = None, normalised: bool = False) -> SentenceAssessment:
    """Score one sentence or list item.

    ``implicit_level`` is the claim a list item inherits from a heading such as 「適応症」 or
    "Conditions we treat": a clause with no content cue of its own claims that level (its own
    hedges, negations and exclusions still apply).

    The result depends on the text and ``implicit_level`` only, so it is cached: pages repeat their
    boilerplate, and a site checked again repeats most of its sentences.
    """
    return _assess(text if normalised else normalise(text), implicit_level)


def clear_cache() -> None:
    """Forget cached assessments (benchmarks use it to time pages never seen before)."""
    _assess.cache_clear()
    with _STORE_LOCK:
        SITE_ASSESSMENTS.clear()


@lru_cache(maxsize=CACHE_SIZE)
def _assess(norm: str, implicit_level: int | None) -> SentenceAssessment:
    # The LRU holds the sentences a site repeats on every page; the compact store behind it holds every
    # sentence met since it was last cleared, so a page that changes a round later finds its own again.
    # One lock around the store and its table of values: a thread never reads a table half grown, and two
    # never give one code to two values (decoding reads values by code, which never change).
    key = hash((norm, implicit_level))
    with _STORE_LOCK:
        record = SITE_ASSESSMENTS.get(key)
    if record is not None and record[0] == len(norm):
        return _decode(norm, record)
    assessment = _assess_anew(norm, implicit_level)
    if record is None:
        with _STORE_LOCK:
            encoded = _encode(assessment)
            if encoded is not None and SITE_ASSESSMENTS.get(key) is None:
                SITE_ASSESSMENTS.put(key, encoded)
    return assessment


# Every value of an assessment that is not a small number (a mention's kind, entry, group and level; a
# caveat group; a cue) is stored as its index in ``_VALUES``: few distinct ones, all from the vocabulary
# or cut from its matches. Bounded like a record's words: an assessment with a new value past the bound
# is not stored (it is assessed again when met again).
_CODES: dict[object, int] = {}
_VALUES: list[Any] = []


def _code(value: object) -> int:
    code = _CODES.get(value)
    if code is None:
        if len(_VALUES) > WORD:
            return WORD + 1
        code = _CODES[value] = len(_VALUES)
        _VALUES.append(value)
    return code


def _encode(assessment: SentenceAssessment) -> list[int] | None:
    """The record of an assessment (its text is the key): words of at most ``WORD``, else None."""
    size = len(assessment.text)  # bounds every offset and count
    record = [size, assessment.level | assessment.question << 3 | assessment.measurement << 4, len(assessment.clauses)]
    codes = _CODES
    for clause in assessment.clauses:
        flags = clause.level | clause.therapeutic << 3 | clause.excluded << 4 | clause.negated << 5
        cue = codes.get(clause.cue)
        record += (clause.start, clause.end, flags, clause.hedges, _code(clause.cue) if cue is None else cue)
        record.append(len(clause.caveats))
        if clause.caveats:
            record += [_code(group) for group in clause.caveats]
    for mentions in (assessment.indications, assessment.treatments, assessment.markers):
        record.append(len(mentions))
        for mention in mentions:
            record += (
                _code((mention.kind, mention.entry_id, mention.group, mention.level)),
                mention.clause,
                mention.start,
            )
    if size > WORD or len(_VALUES) > WORD:
        return None
    return record


def _decoded_mention(code: int, clause: int, start: int) -> Mention:
    kind, entry_id, group, level = _VALUES[code]
    return Mention(kind, entry_id, group, level, clause, start)


def _decode(norm: str, record: Sequence[int]) -> SentenceAssessment:
    flags, count = record[1], record[2]
    at = 3
    clauses = []
    for _ in range(count):
        start, end, clause_flags, hedges, cue, caveat_count = record[at : at + 6]
        at += 6
        caveats = tuple(_VALUES[code] for code in record[at : at + caveat_count])
        at += caveat_count
        clauses.append(
            Clause(
                start,
                end,
                clause_flags & 7,
                bool(clause_flags & 8),
                bool(clause_flags & 16),
                bool(clause_flags & 32),
                caveats,
                _VALUES[cue],
                hedges,
            )
        )
    lists: list[tuple[Mention, ...]] = []
    for _ in range(3):
        count = record[at]
        at += 1
        lists.append(
            tuple(
                _decoded_mention(record[index], record[index + 1], record[index + 2])
                for index in range(at, at + 3 * count, 3)
            )
        )
        at += 3 * count
    indications, treatments, markers = lists
    return SentenceAssessment(
        norm, flags & 7, bool(flags & 8), tuple(clauses), indications, treatments, markers, bool(flags & 16)
    )


def _assess_anew(norm: str, implicit_level: int | None) -> SentenceAssessment:
    folded = fold_case(norm)
    hits = SENTENCES.scan(norm, folded)
    question = _is_question(norm, folded)
    bounds = _clause_bounds(hits, norm)
    parts: list[tuple[list[Hit], AbstractSet[int], AbstractSet[int], set[str]]] = []
    # A research-stage qualifier anywhere in the sentence (「研究段階ではありますが、…」) caps all of it.
    research = ""
    measurement = False
    taken = 0
    for start, end in bounds:
        # hits are ordered by start: the clause's are the ones from the last clause's up to its end
        first = taken
        while taken < len(hits) and hits[taken].start < end:
            taken += 1
        in_clause = hits[first:taken]
        kinds = {hit.term.kind for hit in in_clause}
        discarded: AbstractSet[int] = _conditional(in_clause, norm, start) if "condition" in kinds else _NO_POSITIONS
        negated: AbstractSet[int] = _negated(in_clause, norm, discarded) if "negation" in kinds else _NO_POSITIONS
        parts.append((in_clause, discarded, negated, kinds))
        measurement = measurement or "measure" in kinds
        if not research and RESEARCH_STAGE in kinds:
            research = next(
                (
                    norm[hit.start : hit.end]
                    for position, hit in enumerate(in_clause)
                    if hit.term.kind == RESEARCH_STAGE and position not in discarded and position not in negated
                ),
                "",
            )
    clauses: list[Clause] = []
    indications: list[Mention] = []
    treatments: list[Mention] = []
    markers: list[Mention] = []
    for index, ((start, end), (in_clause, discarded, negated, kinds)) in enumerate(zip(bounds, parts, strict=True)):
        clause = _score(in_clause, (start, end), norm, discarded, negated, implicit_level, research, kinds)
        if clause.level and _asks(norm, end):
            # 「…本当に効くの?メリットを解説します」: a clause that ends in a question mark claims nothing.
            clause = clause._replace(level=0, therapeutic=False)
        clauses.append(clause)
        if kinds.isdisjoint(_MENTION_KINDS):
            continue  # the loop below only collects names and markers
        for position, hit in enumerate(in_clause):
            kind = hit.term.kind
            if kind == "indication":
                indications.append(_mention(hit, index))
            elif kind == "treatment":
                treatments.append(_mention(hit, index))
            elif kind in MARKER_KINDS and not question and position not in negated and position not in discarded:
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
        measurement=measurement,
    )


def _mention(hit: Hit, clause: int) -> Mention:
    term = hit.term
    return Mention(term.kind, term.entry_id, term.group, term.level, clause, hit.start)


def _clause_bounds(hits: list[Hit], norm: str) -> list[tuple[int, int]]:
    """Clauses between contrast words and English sentence ends; a sentence that opens with a contrast
    word ("While more research is needed, studies show …") is cut at the comma that closes the fronted
    clause instead."""
    cuts = [0]
    fronted = bool(hits) and hits[0].term.kind == BREAK and hits[0].term.english and hits[0].start == 0
    for hit in hits:
        if fronted and hit.term.kind == COMMA:
            fronted = False
            if hit.start > cuts[-1]:
                cuts.append(hit.start)
        elif hit.term.kind == BREAK and hit.start > cuts[-1]:
            cuts.append(hit.start)
    if ". " in norm:
        # several English sentences given as one text: each is its own clause, as after 「。」
        stops = [stop.start() for stop in _FULL_STOP.finditer(norm) if english_stop(norm, stop.start())]
        cuts = sorted({*cuts, *stops})
    cuts.append(len(norm))
    return list(pairwise(cuts))


def _conditional(in_clause: list[Hit], norm: str, start: int) -> set[int]:
    """Positions (in ``in_clause``) of cues inside a conditional clause."""
    discarded: set[int] = set()
    for position, hit in enumerate(in_clause):
        if hit.term.kind != "condition":
            continue
        if hit.term.english:
            # "if it works, ..." : from the condition word to the next comma
            stop = next(
                (other.start for other in in_clause[position + 1 :] if other.term.kind == COMMA),
                len(norm),
            )
            discarded.update(i for i, other in enumerate(in_clause) if hit.start < other.start < stop)
        else:
            # 「効果が認められた場合は」: back from the condition word to the previous comma; a condition in
            # brackets (「改善率は50%(難治例の場合)」) qualifies only what is inside them.
            begin = start
            for other in in_clause[:position]:
                if other.term.kind == COMMA:
                    begin = other.end
            bracket = norm.rfind("(", begin, hit.start)
            if bracket >= 0 and norm.find(")", bracket, hit.start) < 0:
                begin = bracket
            discarded.update(i for i, other in enumerate(in_clause) if begin <= other.start < hit.start)
    return discarded


def _negated(in_clause: list[Hit], norm: str, discarded: AbstractSet[int]) -> set[int]:
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
            # 「対象は「薬で効果がみられない…」に限られます」: a negation inside brackets stays inside them.
            opener = _open_bracket(norm, hit.start)
            for earlier in range(position - 1, -1, -1):
                other = in_clause[earlier]
                if other.start < opener:
                    break
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


def _open_bracket(norm: str, position: int) -> int:
    """Where the innermost bracket still open at ``position`` starts, or -1."""
    depth = 0
    for index in range(position - 1, -1, -1):
        char = norm[index]
        if char in _CLOSING_BRACKETS:
            depth += 1
        elif char in _OPENING_BRACKETS:
            if depth == 0:
                return index
            depth -= 1
    return -1


def _treatment_follows(in_clause: list[Hit], position: int) -> bool:
    return any(hit.term.kind == "treatment" for hit in in_clause[position + 1 : position + 4])


def _topic_comma(norm: str, comma: int) -> bool:
    """「有効性は、…ません」: the comma after a topic (は, について) does not end the negation's reach."""
    before = norm[max(0, comma - 4) : comma]
    return before.endswith(("は", "について", "に関して"))


@dataclass(slots=True)
class _Tally:
    """What the cues of one clause add up to, and which cue decided each part (for explanations)."""

    content: int = 0
    content_cue: str = ""
    authoritative: int = 0
    authoritative_cue: str = ""
    intensifier_cue: str = ""
    hedge_cap: int = 4
    hedge_cue: str = ""
    hedges: int = 0
    modifier_cap: int = 4
    modifier_cue: str = ""

    def add_content(self, level: int, cue: str, *, authoritative: bool) -> None:
        if authoritative:
            if level > self.authoritative:
                self.authoritative, self.authoritative_cue = level, cue
        elif level > self.content:
            self.content, self.content_cue = level, cue

    def cap(self, level: int, cue: str, *, hedge: bool) -> None:
        if hedge:
            self.hedges += 1
        if hedge and level < self.hedge_cap:
            self.hedge_cap, self.hedge_cue = level, cue
        elif not hedge and level < self.modifier_cap:
            self.modifier_cap, self.modifier_cue = level, cue


def _score(
    in_clause: list[Hit],
    bounds: tuple[int, int],
    norm: str,
    discarded: AbstractSet[int],
    negated: AbstractSet[int],
    implicit_level: int | None,
    research: str,
    clause_kinds: set[str],
) -> Clause:
    """The clause's level: the strongest content, lifted to 4 by an intensifier, capped by its modifiers.

    Every hedge caps at 1 (possibility wins over a report or an expectation around it: 可能性が示唆, "studies
    suggest it may help"); attribution, expectation and the writer's judgement cap ordinary content at 2,
    but not approval or an outcome statistic; a research-stage qualifier (``research``, the cue's text)
    in the sentence caps at 1.
    """
    start, end = bounds
    if implicit_level is None and clause_kinds.isdisjoint(_SCORED_KINDS):
        # Nothing below acts on a clause without a scored cue (names, punctuation, markers only) unless it
        # inherits a list's level: it claims nothing, and a negation or a condition in it changes nothing.
        return Clause(start, end, 0, False, False, False, ())
    tally = _Tally()
    therapeutic = zeroed = excluded = correlated = negated_content = False
    caveats: list[str] = []
    ability = ""
    if discarded:
        live: range | list[int] = [position for position in range(len(in_clause)) if position not in discarded]
        kinds = {in_clause[position].term.kind for position in live}
    else:
        live = range(len(in_clause))
        kinds = clause_kinds
    names_indication = implicit_level is not None or "indication" in kinds
    # Read by ``_counts`` for a statistic only.
    numeric = "statistic" in kinds and _DIGIT.search(norm, start, end) is not None
    for position in live:
        hit = in_clause[position]
        term = hit.term
        kind = term.kind
        if kind not in _SCORED_KINDS:
            continue  # names, punctuation, markers: nothing below reads them
        if position in negated:
            negated_content = negated_content or kind in CONTENT_KINDS
            if kind in PROOF_KINDS and NOT_PROVEN not in caveats:
                caveats.append(NOT_PROVEN)
            continue
        if kind in ZEROING_KINDS or kind == RESEARCH_STAGE:
            zeroed = zeroed or kind != RESEARCH_STAGE
            excluded = excluded or kind == "exclusion"
            if kind != "exclusion" and term.group and term.group not in caveats:
                caveats.append(term.group)
            continue
        if kind == "correlation":
            correlated = True
            continue
        cue = norm[hit.start : hit.end]
        if kind == "role" and not correlated and _treatment_follows(in_clause, position):
            # "suggests a role for exosome therapy in Parkinson's disease" (but not "a role for
            # inflammation in depression")
            tally.add_content(term.level or 0, cue, authoritative=False)
            therapeutic = True
        if kind in CONTENT_KINDS and not correlated and _counts(kind, numeric, names_indication, kinds):
            endorsed = kind == "endorsement" and "authority" in kinds
            level = OFFER_LEVEL if kind == "endorsement" and not endorsed else term.level or 0
            tally.add_content(level, cue, authoritative=endorsed or kind in AUTHORITATIVE_KINDS)
            therapeutic = therapeutic or kind in THERAPEUTIC_KINDS
        elif kind == "intensifier":
            tally.intensifier_cue = tally.intensifier_cue or cue
        if kind in MODIFIER_KINDS:
            tally.cap(term.level or 0, cue, hedge=kind == "hedge")
        elif kind == "ability":
            ability = ability or cue
    own_content = bool(tally.content or tally.authoritative)
    if not own_content and implicit_level is not None and not (negated_content or correlated or research):
        # A list item under an indications heading claims the heading's level; a research-stage item
        # (「不明(研究段階)」) claims nothing unless it says more itself.
        tally.add_content(implicit_level, "", authoritative=False)
        therapeutic = True
    if tally.content and tally.intensifier_cue and therapeutic:
        # statistics and certainty lift a therapeutic claim; a mechanism stays a mechanism
        tally.content = 4
    if ability:
        # "TMS can help people with OCD" states what a named treatment does for a named condition (3);
        # "can lead to", "can cause" a possible cause (1); any other "can" a general ability (2).
        named = names_indication or "treatment" in kinds
        tally.cap(1 if not therapeutic else 4 if named else 2, ability, hedge=True)
    ordinary = min(tally.content, tally.hedge_cap, tally.modifier_cap)
    level = max(ordinary, min(tally.authoritative, tally.hedge_cap))
    if research:
        level = min(level, RESEARCH_STAGE_CAP)
    if zeroed:
        level = 0
    return Clause(
        start=start,
        end=end,
        level=level,
        therapeutic=therapeutic and level > 0,
        excluded=excluded,
        negated=negated_content,
        caveats=tuple(caveats),
        cue=_explain(tally, level, ordinary, research) if level else "",
        hedges=tally.hedges if level else 0,
    )


def _explain(tally: _Tally, level: int, ordinary: int, research: str) -> str:
    """The cues that decided ``level``: 「改善 + 有意」, "may help ≤1", "FDA-cleared", "(heading)"."""
    if tally.authoritative and min(tally.authoritative, tally.hedge_cap) >= ordinary:
        parts = [tally.authoritative_cue]
        caps = [(tally.hedge_cap, tally.hedge_cue)]
    else:
        parts = [tally.content_cue or "(heading)"]
        if tally.intensifier_cue and tally.content == 4:
            parts.append(tally.intensifier_cue)
        caps = [(tally.hedge_cap, tally.hedge_cue), (tally.modifier_cap, tally.modifier_cue)]
    text = " + ".join(parts)
    binding = [cue for cap, cue in caps if cue and cap == level]
    if research and level == RESEARCH_STAGE_CAP and not binding:
        binding = [research]
    return f"{text}, capped by {binding[0]}" if binding else text


def _counts(kind: str, numeric: bool, names_indication: bool, kinds: set[str]) -> bool:
    """A statistic needs a number in its clause; an offer (or an endorsement by no authority) needs an
    indication and no test beside it."""
    if kind == "statistic":
        return numeric
    if kind == "offer" or (kind == "endorsement" and "authority" not in kinds):
        return names_indication and "diagnostic" not in kinds
    return True


def _asks(norm: str, end: int) -> bool:
    """Does the clause ending at ``end`` end in a question mark (and not in a definition, 「…とは?」)?"""
    return norm.startswith("?", end) and not norm[:end].rstrip(_CLOSERS).endswith(_DEFINITION_ENDINGS)


def _is_question(norm: str, folded: str) -> bool:
    tail = norm.rstrip(_CLOSERS)
    if tail.endswith("?"):
        # 「…に効く再生医療とは?」 defines what it names; it does not ask whether it works.
        return not tail[:-1].rstrip(_CLOSERS).endswith(_DEFINITION_ENDINGS)
    if tail.endswith("か") and len(tail) > 1 and tail[-2] in _JAPANESE_QUESTION_BEFORE_KA:
        return True
    if _QUESTION_PREFIX.match(norm):
        return True
    if tail.endswith((".", "!", "。")):
        return False
    words = folded.split(maxsplit=2)
    return bool(words) and (words[0] in QUESTION_OPENERS or " ".join(words[:2]) in QUESTION_OPENERS)
