"""What a text claims: the ``ClaimProfile`` of one text version, and ``analyze`` that builds it."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, TypeVar

from watcher.claims.language import detect_language
from watcher.claims.references import Reference, looks_like_citation, parse_reference
from watcher.claims.regulation import CategoryHit, ClaimFact, Disclosures, MarkerFact, review
from watcher.claims.sections import EXCLUSIONS, REFERENCES, Line, is_claim_heading, is_topic_heading, walk
from watcher.claims.segment import ITEM, ROW, parse_blocks, split_sentences
from watcher.claims.strength import Mention, SentenceAssessment, assess
from watcher.claims.vocabulary import load_vocabulary
from watcher.extract.normalize import normalise

# Bump whenever rules or vocabulary change, so stored profiles can be re-derived.
ANALYSER_VERSION = "1.3.0"

MAX_EVIDENCE = 3
MAX_PER_GROUP = 3
SAFETY = "safety"
TESTIMONIAL = "testimonial"
SUPERLATIVE = "superlative"
RECRUITMENT = "recruitment"

_URL = re.compile(r"https?://\S+")
_SENTENCE_END = ("。", ".", "!", "?")
_IDENTITY_PRIORITY = ("doi:", "pmid:", "pmc:", "author:", "url:", "text:")
_Item = TypeVar("_Item", "Caveat", "Marker")
_SYMPTOMS = load_vocabulary().symptom_ids


@dataclass(frozen=True, slots=True)
class TreatmentClaim:
    """The strongest claim of one treatment (or of none named: ``treatments == ()``) for an indication:
    the unit that ``compare`` aligns across versions, so a rise hidden under the page maximum shows."""

    treatments: tuple[str, ...]
    strength: int
    evidence: str
    cue: str  # the cue(s) that decided ``strength``

    def to_dict(self) -> dict[str, Any]:
        return {
            "treatments": list(self.treatments),
            "strength": self.strength,
            "evidence": self.evidence,
            "cue": self.cue,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreatmentClaim:
        return cls(tuple(data["treatments"]), int(data["strength"]), str(data["evidence"]), str(data.get("cue", "")))


@dataclass(frozen=True, slots=True)
class IndicationClaim:
    indication: str
    strength: int
    treatments: tuple[str, ...]
    evidence: tuple[str, ...]  # the sentences that claim it at ``strength``
    cue: str = ""  # the cue(s) that decided ``strength`` in the first evidence sentence
    claims: tuple[TreatmentClaim, ...] = ()  # per treatment, strongest first

    def claim_of(self, treatments: tuple[str, ...]) -> TreatmentClaim | None:
        return next((claim for claim in self.claims if claim.treatments == treatments), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strength": self.strength,
            "treatments": list(self.treatments),
            "evidence": list(self.evidence),
            "cue": self.cue,
            "claims": [claim.to_dict() for claim in self.claims],
        }

    @classmethod
    def from_dict(cls, indication: str, data: dict[str, Any]) -> IndicationClaim:
        # Profiles stored by an older analyser lack "cue" and "claims"; reanalyze re-derives them.
        return cls(
            indication,
            int(data["strength"]),
            tuple(data["treatments"]),
            tuple(data["evidence"]),
            str(data.get("cue", "")),
            tuple(TreatmentClaim.from_dict(item) for item in data.get("claims", [])),
        )


@dataclass(frozen=True, slots=True)
class Caveat:
    group: str  # limited_evidence, further_research, experimental, not_proven, individual_variation, ...
    text: str


@dataclass(frozen=True, slots=True)
class Marker:
    kind: str  # safety | testimonial | superlative | recruitment
    group: str
    level: int | None  # safety: 1 relative, 2 absolute
    text: str


@dataclass(frozen=True)
class ClaimProfile:
    language: str
    indications: dict[str, IndicationClaim] = field(default_factory=dict)
    excluded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mentioned: tuple[str, ...] = ()  # named without a claim (mechanism sentences, questions)
    treatments: tuple[str, ...] = ()  # the page's main treatments, most mentioned first
    references: dict[str, Reference] = field(default_factory=dict)
    caveats: tuple[Caveat, ...] = ()
    markers: tuple[Marker, ...] = ()
    analyser_version: str = ANALYSER_VERSION
    # The regulator's lens (watcher.claims.regulation): guideline categories with their evidence sentences,
    # and the required disclosures present and missing. Empty on profiles stored before analyser 1.3.0.
    categories: tuple[CategoryHit, ...] = ()
    disclosures: Disclosures = field(default_factory=Disclosures)

    def strength(self, indication: str) -> int:
        claim = self.indications.get(indication)
        return claim.strength if claim else 0

    def indication_strengths(self) -> dict[str, int]:
        """Claimed indication id → strength, for storing beside the profile and querying."""
        return {indication: claim.strength for indication, claim in sorted(self.indications.items())}

    def markers_of(self, kind: str) -> tuple[Marker, ...]:
        return tuple(marker for marker in self.markers if marker.kind == kind)

    def category_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(hit.category for hit in self.categories))

    @property
    def safety_claims(self) -> tuple[Marker, ...]:
        return self.markers_of(SAFETY)

    @property
    def testimonials(self) -> tuple[Marker, ...]:
        return self.markers_of(TESTIMONIAL)

    @property
    def superlatives(self) -> tuple[Marker, ...]:
        return self.markers_of(SUPERLATIVE)

    @property
    def recruitment(self) -> tuple[Marker, ...]:
        return self.markers_of(RECRUITMENT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "analyser_version": self.analyser_version,
            "language": self.language,
            "indications": {key: claim.to_dict() for key, claim in sorted(self.indications.items())},
            "excluded": {key: list(texts) for key, texts in sorted(self.excluded.items())},
            "mentioned": list(self.mentioned),
            "treatments": list(self.treatments),
            "references": {
                key: {"text": ref.text, "identities": list(ref.identities)}
                for key, ref in sorted(self.references.items())
            },
            "caveats": [{"group": caveat.group, "text": caveat.text} for caveat in self.caveats],
            "markers": [
                {"kind": marker.kind, "group": marker.group, "level": marker.level, "text": marker.text}
                for marker in self.markers
            ],
            "categories": [hit.to_dict() for hit in self.categories],
            "disclosures": self.disclosures.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClaimProfile:
        return cls(
            analyser_version=str(data["analyser_version"]),
            language=str(data["language"]),
            indications={key: IndicationClaim.from_dict(key, value) for key, value in data["indications"].items()},
            excluded={key: tuple(value) for key, value in data["excluded"].items()},
            mentioned=tuple(data["mentioned"]),
            treatments=tuple(data["treatments"]),
            references={
                key: Reference(key, value["text"], tuple(value["identities"]))
                for key, value in data["references"].items()
            },
            caveats=tuple(Caveat(item["group"], item["text"]) for item in data["caveats"]),
            markers=tuple(Marker(item["kind"], item["group"], item["level"], item["text"]) for item in data["markers"]),
            categories=tuple(CategoryHit.from_dict(item) for item in data.get("categories", [])),
            disclosures=Disclosures.from_dict(data.get("disclosures")),
        )


def analyze(text: str, lang: str | None = None) -> ClaimProfile:
    """The claim profile of one text version (the extractor's line format, or plain text).

    ``lang`` ('ja', 'en', 'mixed') is recorded as the profile's language instead of the detected one;
    the rules need no hint, since each cue carries its own language.
    """
    normalised = normalise(text)
    builder = _ProfileBuilder()
    blocks = parse_blocks(normalised)
    for line in walk(blocks):
        builder.add_line(line)
    profile = builder.build(lang or detect_language(normalised))
    regulation = review(
        normalised,
        claims=[ClaimFact(c.strength, c.sentence, c.treatments) for claims in builder.claims.values() for c in claims],
        markers=[MarkerFact(m.kind, m.group, m.level, m.text) for m in builder.markers],
        treatments=profile.treatments,
        language=profile.language,
        blocks=blocks,
    )
    return replace(profile, categories=regulation.categories, disclosures=regulation.disclosures)


class _Claim(NamedTuple):
    strength: int
    sentence: str
    treatments: tuple[str, ...]
    cue: str


class _ProfileBuilder:
    def __init__(self) -> None:
        self.claims: dict[str, list[_Claim]] = defaultdict(list)
        self.excluded: dict[str, list[str]] = defaultdict(list)
        self.mentioned: set[str] = set()
        self.treatment_counts: Counter[str] = Counter()
        self.references: list[Reference] = []
        self.caveats: list[Caveat] = []
        self.markers: list[Marker] = []
        self._headings: dict[str, SentenceAssessment] = {}
        self._heading_indications: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._heading_treatments: dict[tuple[str, ...], tuple[str, ...]] = {}
        # The indications the last sentence claimed, and where it stood (enclosing headings, line number).
        self._previous: tuple[tuple[str, ...], tuple[str, ...], int] = ((), (), -1)

    def add_line(self, line: Line) -> None:
        text = line.block.text
        in_references = line.role == REFERENCES
        # A references section's item was parsed by the walk that placed it there (the same call).
        reference = line.reference or parse_reference(text, in_references_section=in_references)
        if reference is not None:
            self._add_reference(reference)
            if in_references or looks_like_citation(text) or not text.rstrip().endswith(_SENTENCE_END):
                return  # a citation's title ("Effects of exosomes on stroke") is not the page's claim
        sentences = [text] if line.block.kind in (ITEM, ROW) else split_sentences(text)
        topic = line.is_heading and is_topic_heading(text)
        for sentence in sentences:
            # Every URL starts "http": a sentence without one is its own text (no substitution to make).
            plain = _URL.sub(" ", sentence) if "http" in sentence else sentence
            assessment = assess(plain, implicit_level=line.implicit_level, normalised=True)
            self._add_sentence(sentence, assessment, line, may_claim=not topic or is_claim_heading(assessment))

    def _add_sentence(self, sentence: str, assessment: SentenceAssessment, line: Line, *, may_claim: bool) -> None:
        treatments: tuple[str, ...] = ()
        if assessment.treatments:
            treatments = tuple(sorted({mention.entry_id for mention in assessment.treatments}))
            self.treatment_counts.update(mention.entry_id for mention in assessment.treatments)
        for mention in assessment.markers:
            self.markers.append(Marker(mention.kind, mention.group or mention.entry_id, mention.level, sentence))
        for clause in assessment.clauses:
            for group in clause.caveats:  # assessment.caveats, without building the tuple
                self.caveats.append(Caveat(group, sentence))
        claimed: dict[str, tuple[int, str]] = {}
        for mention in assessment.indications:
            clause = assessment.clauses[mention.clause]
            if line.role == EXCLUSIONS or clause.excluded:
                self.excluded[mention.entry_id].append(sentence)
            elif may_claim and assessment.claim_level(mention.clause) >= 1 and clause.therapeutic:
                if clause.level > claimed.get(mention.entry_id, (0, ""))[0]:
                    claimed[mention.entry_id] = (clause.level, clause.cue)
            else:
                self.mentioned.add(mention.entry_id)
        if not assessment.indications and may_claim and line.role != EXCLUSIONS:
            claimed = self._referred(assessment, line)
        if claimed and not _SYMPTOMS.issuperset(claimed):
            # "eases the exhaustion that follows long COVID": the symptom belongs to the disease's claim.
            for symptom in _SYMPTOMS.intersection(claimed):
                del claimed[symptom]
                self.mentioned.add(symptom)
        linked = (treatments or self._treatments_of_headings(line.headings)) if claimed else ()
        for indication, (level, cue) in claimed.items():
            self.claims[indication].append(_Claim(level, sentence, linked, cue))
        if assessment.indications or claimed or line.is_heading:
            self._previous = (tuple(claimed), line.headings, line.block.line)

    def _referred(self, assessment: SentenceAssessment, line: Line) -> dict[str, tuple[int, str]]:
        """A claim that names no indication is about the one the sentence before it claimed (「実際に、当院で
        治療を受けた方の82%で改善がみられました。」), or else the one its nearest heading names (a statistics
        table under 「認知症に対する治療成績」)."""
        if not assessment.level or assessment.question or assessment.measurement:
            return {}  # a question, or no clause claims (a therapeutic clause has a level)
        clause = None  # the first of the strongest therapeutic clauses
        for candidate in assessment.clauses:
            if candidate.therapeutic and not candidate.excluded and (clause is None or candidate.level > clause.level):
                clause = candidate
        if clause is None:
            return {}
        previous, headings, number = self._previous
        if previous and headings == line.headings and 0 <= line.block.line - number <= 1:
            named = previous
        else:
            named = self._indications_of_headings(line.headings)
        return dict.fromkeys(named, (clause.level, f"{clause.cue} (refers back)"))

    def _heading(self, heading: str) -> SentenceAssessment:
        if heading not in self._headings:
            self._headings[heading] = assess(heading)
        return self._headings[heading]

    def _indications_of_headings(self, headings: tuple[str, ...]) -> tuple[str, ...]:
        if headings not in self._heading_indications:
            self._heading_indications[headings] = _named_by_headings(
                self._heading(heading).indications for heading in reversed(headings)
            )
        return self._heading_indications[headings]

    def _treatments_of_headings(self, headings: tuple[str, ...]) -> tuple[str, ...]:
        # Asked for every claiming sentence under the same headings: worked out once per heading path.
        if headings not in self._heading_treatments:
            found = _named_by_headings(self._heading(heading).treatments for heading in reversed(headings))
            self._heading_treatments[headings] = tuple(sorted(found))
        return self._heading_treatments[headings]

    def _add_reference(self, reference: Reference) -> None:
        for index, known in enumerate(self.references):
            if known.same_as(reference):
                identities = tuple(dict.fromkeys((*known.identities, *reference.identities)))
                self.references[index] = Reference(_best_identity(identities), known.text, identities)
                return
        self.references.append(reference)

    def build(self, language: str) -> ClaimProfile:
        page_treatments = self._page_treatments()
        indications: dict[str, IndicationClaim] = {}
        for indication, claims in sorted(self.claims.items()):
            strongest = max(claim.strength for claim in claims)
            best = [claim for claim in claims if claim.strength == strongest]
            evidence = _first_distinct((claim.sentence for claim in best), MAX_EVIDENCE)
            linked = sorted({treatment for claim in best for treatment in claim.treatments})
            indications[indication] = IndicationClaim(
                indication,
                strongest,
                tuple(linked) or page_treatments,
                evidence,
                best[0].cue,
                _per_treatment(claims),
            )
        excluded = {
            indication: tuple(dict.fromkeys(texts))[:MAX_EVIDENCE]
            for indication, texts in sorted(self.excluded.items())
        }
        mentioned = tuple(sorted(self.mentioned - set(indications) - set(excluded)))
        return ClaimProfile(
            language=language,
            indications=indications,
            excluded=excluded,
            mentioned=mentioned,
            treatments=page_treatments,
            references={reference.key: reference for reference in self.references},
            caveats=_first_per_group(self.caveats, lambda caveat: caveat.group),
            markers=_first_per_group(self.markers, lambda marker: (marker.kind, marker.group)),
        )

    def _page_treatments(self) -> tuple[str, ...]:
        """Treatments mentioned at least half as often as the most mentioned one."""
        if not self.treatment_counts:
            return ()
        top = max(self.treatment_counts.values())
        ranked = sorted(self.treatment_counts.items(), key=lambda item: (-item[1], item[0]))
        return tuple(treatment for treatment, count in ranked if count * 2 >= top)


def _per_treatment(claims: list[_Claim]) -> tuple[TreatmentClaim, ...]:
    """The strongest claim of each treatment (the first sentence that makes it), strongest first."""
    best: dict[tuple[str, ...], _Claim] = {}
    for claim in claims:
        known = best.get(claim.treatments)
        if known is None or claim.strength > known.strength:
            best[claim.treatments] = claim
    ranked = sorted(best.values(), key=lambda claim: (-claim.strength, claim.treatments))
    return tuple(TreatmentClaim(claim.treatments, claim.strength, claim.sentence, claim.cue) for claim in ranked)


def _first_distinct(texts: Iterable[str], limit: int) -> tuple[str, ...]:
    """The first ``limit`` distinct texts, in order (without reading past them: a page repeats its claim)."""
    found: dict[str, None] = {}
    for text in texts:
        if text not in found:
            found[text] = None
            if len(found) == limit:
                break
    return tuple(found)


def _named_by_headings(mentions_per_heading: Iterable[tuple[Mention, ...]]) -> tuple[str, ...]:
    """The entries the first heading (innermost first) that names any names, in order, once each."""
    for found in mentions_per_heading:
        if found:
            return tuple(dict.fromkeys(mention.entry_id for mention in found))
    return ()


def _best_identity(identities: tuple[str, ...]) -> str:
    for prefix in _IDENTITY_PRIORITY:
        for identity in identities:
            if identity.startswith(prefix):
                return identity
    return identities[0]


def _first_per_group(items: list[_Item], group_of: Callable[[_Item], Hashable]) -> tuple[_Item, ...]:
    """Distinct items, at most ``MAX_PER_GROUP`` of each group, in document order."""
    kept: list[_Item] = []
    counts: Counter[Hashable] = Counter()
    for item in dict.fromkeys(items):
        group = group_of(item)
        if counts[group] < MAX_PER_GROUP:
            counts[group] += 1
            kept.append(item)
    return tuple(kept)
