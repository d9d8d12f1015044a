"""The regulator's lens: which categories of Japan's medical-advertising rules a page may fall under, and
which required disclosures it states or lacks. Pure, like the rest of the analyser; the rules are data
(``data/regulation.yaml``, with the documents and items they come from).

Inputs are what the profile builder already knows — the text's sentences, every claim (strength,
sentence, linked treatments), every marker (safety, testimonial, superlative) — so this module needs no
import of ``profile`` and the profile needs only to call ``review``.

- **Categories** (``CategoryHit``: category, evidence sentence, the rule that found it): false advertising
  (guaranteed outcomes, absolute safety), exaggeration (proof or statistics for an unapproved product),
  comparative superiority, testimonials, before/after photographs without the explanation beside them,
  efficacy claims for unapproved products. English pages are judged on the same claims.
- **Disclosures** (``Disclosures``): the items that lift the limit on what a free-treatment page may say
  (限定解除要件), and the extra items for unapproved products. Japanese law, so judged on Japanese and
  mixed pages only. ``present`` holds each item found with its sentence; ``missing`` the items the page's
  scopes require and does not state — a state of the page, not an event.
- ``finding_categories``: the categories of one finding's new sentence, for alerts and subscriptions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from operator import itemgetter
from typing import Any, NamedTuple

import ahocorasick
import yaml

from watcher.claims.lexicon import frequent_first
from watcher.claims.segment import HEADING, ITEM, ROW, Block, parse_blocks, split_sentences
from watcher.claims.vocabulary import YAML_LOADER
from watcher.extract.normalize import fold_case, normalise

FREE_TREATMENT = "free_treatment"
UNAPPROVED = "unapproved"
SCOPES = (FREE_TREATMENT, UNAPPROVED)
MISSING_DISCLOSURE = "missing_disclosure"
DISCLOSURE_LANGUAGES = frozenset({"ja", "mixed"})
MAX_EVIDENCE = 3

_WORD_CHAR = re.compile(r"[0-9a-z]")


class RegulationDataError(ValueError):
    """``regulation.yaml`` is malformed: a programming error in the shipped data, never user input."""


@dataclass(frozen=True, slots=True)
class CategoryHit:
    category: str
    evidence: str  # the sentence
    rule: str  # the entry of regulation.yaml that found it

    def to_dict(self) -> dict[str, str]:
        return {"category": self.category, "evidence": self.evidence, "rule": self.rule}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryHit:
        return cls(str(data["category"]), str(data["evidence"]), str(data.get("rule", "")))


@dataclass(frozen=True, slots=True)
class Disclosures:
    scopes: tuple[str, ...] = ()  # free_treatment, unapproved: which sets of items the page must state
    present: dict[str, str] = field(default_factory=dict)  # item → the first sentence that states it
    missing: tuple[str, ...] = ()  # items the scopes require that no sentence states

    def to_dict(self) -> dict[str, Any]:
        return {
            "scopes": list(self.scopes),
            "present": dict(sorted(self.present.items())),
            "missing": list(self.missing),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Disclosures:
        if not data:
            return cls()
        return cls(
            tuple(data.get("scopes", ())),
            {str(k): str(v) for k, v in data.get("present", {}).items()},
            tuple(data.get("missing", ())),
        )


class ClaimFact(NamedTuple):  # one per claim of a page
    strength: int
    sentence: str
    treatments: tuple[str, ...]


class MarkerFact(NamedTuple):
    kind: str
    group: str
    level: int | None
    sentence: str


@dataclass(frozen=True, slots=True)
class Regulation:
    categories: tuple[CategoryHit, ...] = ()
    disclosures: Disclosures = field(default_factory=Disclosures)


@dataclass(frozen=True, slots=True)
class Label:
    id: str
    ja: str
    en: str
    source: str
    scope: str = ""  # disclosure items only
    detected: bool = True


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    category: str  # empty for a disclosure rule
    disclosure: str  # empty for a category rule
    lang: str
    match: tuple[re.Pattern[str], ...] = ()
    forms: tuple[frozenset[str], ...] = ()  # the literal (folded) forms of each ``match`` group
    unless: re.Pattern[str] | None = None
    min_strength: int | None = None  # a claim rule
    unapproved_only: bool = False
    marker_kind: str = ""  # a marker rule
    marker_groups: frozenset[str] = frozenset()
    min_level: int | None = None
    unexplained: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()

    def possible_in(self, joined: str, occurring: frozenset[str] | None = None) -> bool:
        """False when the phrase rule can match none of the sentences joined (with line breaks) in
        ``joined``: one of its groups occurs in none of them. A group's forms are literal, bounded only
        by lookarounds on [0-9a-z], so a line break reads as the edge of a sentence: a group that
        matches in one sentence matches in the joined text. A cheap first pass over the whole page.

        ``occurring``: the forms that occur in ``joined`` as plain substrings (``forms_in``), when known.
        A group none of whose forms occurs cannot match, so most rules are ruled out without a regular
        expression (whose lookbehinds make it try every form at every position)."""
        if not self.match:
            return False
        if occurring is not None:
            for group in self.forms:
                if occurring.isdisjoint(group):
                    return False
        return all(pattern.search(joined) for pattern in self.match)

    def matches(self, folded: str) -> bool:
        """A phrase rule on one lower-cased sentence."""
        if not self.match or not all(pattern.search(folded) for pattern in self.match):
            return False
        return self.unless is None or not self.unless.search(folded)

    def marker_fits(self, kind: str, group: str, level: int | None) -> bool:
        return (
            kind == self.marker_kind
            and (not self.marker_groups or group in self.marker_groups)
            and (self.min_level is None or (level or 0) >= self.min_level)
        )


@dataclass(frozen=True, slots=True)
class RegulationRules:
    categories: tuple[Label, ...]
    disclosures: tuple[Label, ...]
    rules: tuple[Rule, ...]
    scope_cues: re.Pattern[str]
    unapproved_treatments: frozenset[str]

    def category(self, category_id: str) -> Label:
        return next(label for label in self.categories if label.id == category_id)

    def disclosure(self, item: str) -> Label:
        return next(label for label in self.disclosures if label.id == item)

    def required(self, scopes: Iterable[str]) -> tuple[str, ...]:
        wanted = set(scopes)
        return tuple(label.id for label in self.disclosures if label.scope in wanted)


@cache
def load_rules() -> RegulationRules:
    text = resources.files("watcher.claims").joinpath("data/regulation.yaml").read_text("utf-8")
    raw = yaml.load(text, Loader=YAML_LOADER)
    return parse_rules(raw)


def category_ids() -> tuple[str, ...]:
    return tuple(label.id for label in load_rules().categories)


def check_category(value: str) -> str:
    """``value`` (an id, or a Japanese or English name) as a category id; ValueError naming the ids."""
    text = value.strip()
    for label in load_rules().categories:
        if text.lower() in (label.id, label.en.lower()) or text == label.ja:
            return label.id
    raise ValueError(f"unknown category {value!r}: use one of {', '.join(category_ids())}")


def parse_rules(raw: Any) -> RegulationRules:
    if not isinstance(raw, dict):
        raise RegulationDataError("regulation.yaml: a mapping expected")
    categories = tuple(_label(item) for item in raw.get("categories", []))
    disclosures = tuple(_label(item) for item in raw.get("disclosures", []))
    category_set = {label.id for label in categories}
    item_set = {label.id for label in disclosures}
    if any(label.scope not in SCOPES for label in disclosures):
        raise RegulationDataError(f"regulation.yaml: a disclosure scope is not one of {SCOPES}")
    rules = tuple(_rule(item, category_set, item_set) for item in raw.get("entries", []))
    ids = [rule.id for rule in rules]
    if len(ids) != len(set(ids)):
        raise RegulationDataError("regulation.yaml: entry ids must be unique")
    return RegulationRules(
        categories=categories,
        disclosures=disclosures,
        rules=rules,
        scope_cues=_alternation(_strings(raw, "scope_cues")),
        unapproved_treatments=frozenset(_strings(raw, "unapproved_treatments")),
    )


def _strings(raw: Mapping[str, Any], key: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise RegulationDataError(f"regulation.yaml: {key} must be a list of strings")
    return value


def _label(raw: Any) -> Label:
    try:
        return Label(
            str(raw["id"]),
            str(raw["ja"]),
            str(raw["en"]),
            " ".join(str(raw["source"]).split()),
            str(raw.get("scope", "")),
            bool(raw.get("detected", True)),
        )
    except (KeyError, TypeError) as error:
        raise RegulationDataError(f"regulation.yaml: a category or disclosure lacks {error}") from error


def _rule(raw: Any, categories: set[str], items: set[str]) -> Rule:
    if not isinstance(raw, dict) or "id" not in raw:
        raise RegulationDataError(f"regulation.yaml: an entry without an id: {raw!r}")
    where = f"regulation.yaml entry {raw['id']}"
    category, item = str(raw.get("category", "")), str(raw.get("disclosure", ""))
    if bool(category) == bool(item) or (category and category not in categories) or (item and item not in items):
        raise RegulationDataError(f"{where}: needs exactly one known category or disclosure")
    groups = raw.get("match", [])
    claim = raw.get("claim") or {}
    marker = raw.get("marker") or {}
    if sum(bool(part) for part in (groups, claim, marker)) != 1:
        raise RegulationDataError(f"{where}: needs exactly one of match, claim, marker")
    unexplained = tuple(str(name) for name in raw.get("unexplained", []))
    if not set(unexplained) <= items:
        raise RegulationDataError(f"{where}: unexplained names an unknown disclosure item")
    examples = raw.get("examples") or {}
    positive, negative = tuple(examples.get("positive", [])), tuple(examples.get("negative", []))
    if not positive or not negative:
        raise RegulationDataError(f"{where}: needs positive and negative examples")
    unless = raw.get("unless", [])
    return Rule(
        id=str(raw["id"]),
        category=category,
        disclosure=item,
        lang=str(raw.get("lang", "any")),
        match=tuple(_alternation(group) for group in groups),
        forms=tuple(frozenset(_folded_forms(group)) for group in groups),
        unless=_alternation(unless) if unless else None,
        min_strength=int(claim["min_strength"]) if claim else None,
        unapproved_only=bool(claim.get("unapproved", False)),
        marker_kind=str(marker.get("kind", "")),
        marker_groups=frozenset(marker.get("groups", [])),
        min_level=int(marker["min_level"]) if "min_level" in marker else None,
        unexplained=unexplained,
        positive=tuple(str(text) for text in positive),
        negative=tuple(str(text) for text in negative),
    )


def _alternation(forms: Iterable[str]) -> re.Pattern[str]:
    """One pattern for a group of forms, compared with lower-cased NFKC text; an English form is a whole
    word or phrase ("cures" is not in "secures")."""
    parts = []
    for form in sorted(_folded_forms(forms), key=len, reverse=True):
        if not form:
            raise RegulationDataError("regulation.yaml: an empty form")
        escaped = re.escape(form)
        if _WORD_CHAR.match(form[0]):
            escaped = r"(?<![0-9a-z])" + escaped
        if _WORD_CHAR.match(form[-1]):
            escaped += r"(?![0-9a-z])"
        parts.append(escaped)
    if not parts:
        raise RegulationDataError("regulation.yaml: an empty group of forms")
    return re.compile("|".join(parts))


def _folded_forms(forms: Iterable[str]) -> set[str]:
    return {fold_case(normalise(str(form))) for form in forms}


# The form of an automaton match (``(end, form)``), without a Python call per match.
_FORM = itemgetter(1)


@cache
def _form_automaton() -> ahocorasick.Automaton:
    """Every literal form of the shipped phrase rules, for ``forms_in``."""
    rules = load_rules().rules
    forms = sorted({form for rule in rules for group in rule.forms for form in group})
    examples = (text for rule in rules for text in (*rule.positive, *rule.negative))
    automaton = ahocorasick.Automaton()
    for form, _form in frequent_first([(form, form) for form in forms], examples):
        automaton.add_word(form, form)
    automaton.make_automaton()
    return automaton


def forms_in(joined: str) -> frozenset[str]:
    """The forms of the shipped phrase rules that occur in ``joined`` as substrings: one pass of an
    automaton over the page instead of a regular expression per group."""
    return frozenset(map(_FORM, _form_automaton().iter(joined)))


def sentences_of(text: str, blocks: list[Block] | None = None) -> list[str]:
    """The sentences of normalised text as the profile builder cuts them (a list item or table row whole),
    headings last: a disclosure's evidence is the sentence that states it rather than the heading above.
    ``blocks``: the text's ``parse_blocks``, when the caller has them."""
    found: list[str] = []
    headings: list[str] = []
    for block in parse_blocks(text) if blocks is None else blocks:
        if not block.text:
            continue
        if block.kind == HEADING:
            headings.append(block.text)
        else:
            found.extend([block.text] if block.kind in (ITEM, ROW) else split_sentences(block.text))
    return found + headings


def review(
    text: str,
    *,
    claims: Iterable[ClaimFact],
    markers: Iterable[MarkerFact],
    treatments: tuple[str, ...],
    language: str,
    blocks: list[Block] | None = None,
) -> Regulation:
    """Categories and disclosures of one normalised text, given the profile builder's claims and markers
    (``treatments``: the page's main treatments, for claims that name none; ``blocks``: the text's
    ``parse_blocks``, when the caller has them)."""
    rules = load_rules()
    sentences = [(sentence, fold_case(sentence)) for sentence in sentences_of(text, blocks)]
    joined = "\n".join(folded for _sentence, folded in sentences)
    claims = [claim for claim in claims if claim.strength > 0]
    markers = list(markers)
    occurring = forms_in(joined)
    disclosures = _disclosures(rules, sentences, joined, occurring, claims, treatments, language)
    hits: list[CategoryHit] = []
    for rule in rules.rules:
        if not rule.category:
            continue
        if rule.match:
            if rule.possible_in(joined, occurring):
                hits.extend(CategoryHit(rule.category, s, rule.id) for s, folded in sentences if rule.matches(folded))
        elif rule.min_strength is not None:
            hits.extend(
                CategoryHit(rule.category, claim.sentence, rule.id)
                for claim in claims
                if claim.strength >= rule.min_strength
                and (not rule.unapproved_only or _unapproved(rules, claim.treatments or treatments))
            )
        elif not rule.unexplained or not set(rule.unexplained) <= set(disclosures.present):
            hits.extend(
                CategoryHit(rule.category, marker.sentence, rule.id)
                for marker in markers
                if rule.marker_fits(marker.kind, marker.group, marker.level)
            )
    order = category_ids()
    hits.sort(key=lambda hit: order.index(hit.category))  # stable: rule order within a category
    return Regulation(_first_per_category(hits), disclosures)


def _unapproved(rules: RegulationRules, treatments: Iterable[str]) -> bool:
    return not rules.unapproved_treatments.isdisjoint(treatments)


def _disclosures(
    rules: RegulationRules,
    sentences: list[tuple[str, str]],
    joined: str,
    occurring: frozenset[str],
    claims: list[ClaimFact],
    treatments: tuple[str, ...],
    language: str,
) -> Disclosures:
    if language not in DISCLOSURE_LANGUAGES:
        return Disclosures()
    present: dict[str, str] = {}
    for rule in rules.rules:
        if rule.disclosure and rule.disclosure not in present and rule.possible_in(joined, occurring):
            found = next((sentence for sentence, folded in sentences if rule.matches(folded)), None)
            if found is not None:
                present[rule.disclosure] = found
    unapproved = _unapproved(rules, treatments) or any(_unapproved(rules, claim.treatments) for claim in claims)
    # Whether any sentence holds a scope cue, asked once of them all: the cues are literal forms bounded
    # by lookarounds on [0-9a-z], so a line break reads as a sentence's edge (see ``Rule.possible_in``).
    free = unapproved or rules.scope_cues.search(joined) is not None
    scopes = tuple(scope for scope, applies in ((FREE_TREATMENT, free), (UNAPPROVED, unapproved)) if applies)
    missing = tuple(item for item in rules.required(scopes) if item not in present)
    return Disclosures(scopes, present, missing)


def _first_per_category(hits: list[CategoryHit]) -> tuple[CategoryHit, ...]:
    """Distinct sentences, at most ``MAX_EVIDENCE`` per category, in the order of the rules."""
    kept: list[CategoryHit] = []
    seen: set[tuple[str, str]] = set()
    counts: dict[str, int] = {}
    for hit in hits:
        if (hit.category, hit.evidence) in seen or counts.get(hit.category, 0) >= MAX_EVIDENCE:
            continue
        seen.add((hit.category, hit.evidence))
        counts[hit.category] = counts.get(hit.category, 0) + 1
        kept.append(hit)
    return tuple(kept)


def finding_categories(
    *,
    sentence: str | None,
    treatments: tuple[str, ...] = (),
    strength: int | None = None,
    marker: tuple[str, str, int | None] | None = None,
    page: Iterable[CategoryHit] = (),
) -> tuple[str, ...]:
    """The categories of one finding: the phrase rules on its new ``sentence``, the claim rules on its
    new ``strength`` and ``treatments``, the marker rules on its ``marker`` (kind, group, level), and any
    category the new page profile (``page``) found in the same sentence."""
    rules = load_rules()
    found: set[str] = {hit.category for hit in page if sentence and hit.evidence == sentence}
    folded = fold_case(normalise(sentence)) if sentence else ""
    for rule in rules.rules:
        if not rule.category:
            continue
        if rule.match and folded and rule.matches(folded):
            found.add(rule.category)
        elif rule.min_strength is not None and strength is not None and strength >= rule.min_strength:
            if not rule.unapproved_only or _unapproved(rules, treatments):
                found.add(rule.category)
        elif marker is not None and rule.marker_kind and not rule.unexplained and rule.marker_fits(*marker):
            found.add(rule.category)
    order = category_ids()
    return tuple(sorted(found, key=order.index))
