"""Load and validate the claim vocabulary: the YAML files in ``watcher/claims/data``.

Every entry has an ``id`` (snake_case, unique across all files), a ``kind``, its surface forms and
``examples: {positive: [...], negative: [...]}`` that the test suite runs through the analyser.

Files and kinds:

- ``indications.yaml`` (kind ``indication``): ``ja``, ``en`` and ``old_names`` are matched without regard
  to case; ``abbreviations`` are matched case-sensitively (ASD, MS, ALS). The id is the canonical
  indication id that profiles and findings carry. ``symptom: true`` marks a symptom (fatigue, headache)
  that is claimed on its own only: in a sentence that claims a disease it is part of that claim.
- ``treatments.yaml`` (kind ``treatment``): same layout as indications.
- ``cues.yaml``: the strength ladder and the rules' trigger words. Kinds:
  ``effect`` (a therapeutic effect, level 3), ``causal`` (a causal verb that is not a therapy claim,
  level 3), ``role`` ("a role for": an effect when a treatment follows in the clause, level 3),
  ``proof`` (a proof or cure word, level 4), ``approval`` (approval, clearance, insurance cover or a
  professional body's recommendation, level 4, not capped by attribution), ``statistic`` (a response,
  remission or success rate: level 4, not capped by attribution, when the clause holds a number),
  ``offer`` (a service offer, level 3, only in a clause that names an indication and no test or
  diagnosis), ``endorsement`` (cleared, recommended, 推奨: approval when an ``authority`` — FDA, an
  association, a guideline, 学会 — is in the clause, else an offer), ``expectation`` (expected benefit,
  level 2; also caps the clause at 2), ``intensifier`` (statistics, certainty: lifts a claim to 4),
  ``hedge`` (caps at 1, whatever reports or expects it: 可能性が示唆 is 1), ``attribution`` (reported
  or attributed speech, anecdotes, animal studies: caps at 2), ``judgement`` (the writer's own
  「…と考えられます」: caps at 2), ``assertion``
  (documents level 3; changes nothing), ``research_stage`` (研究段階, "experimental": caps every claim of
  its sentence at 1 and is an ``experimental`` caveat), ``diagnostic`` (a test or diagnosis: an offer
  beside it is no claim), ``measure`` (levels, 濃度: a measurement sentence does not refer back to the
  previous sentence's indication), ``correlation`` (an association, not an effect: caps what
  follows it at 0), ``negation``, ``limitation`` and ``disclaimer`` (the clause claims nothing and is
  recorded as a caveat), ``exclusion`` (the clause excludes what it names), ``condition`` (a conditional clause claims
  nothing), ``question_opener`` (an English sentence opening like "Does ..." is a question),
  ``clause_break`` (contrast words that start a new clause), ``meta`` (the page talking about itself,
  「…について解説します」, "in this article we explain": the clause claims nothing).
- ``markers.yaml``: kinds ``safety`` (level 1 relative, 2 absolute), ``testimonial``, ``superlative``,
  ``recruitment``; ``group`` names what a finding compares, so a paraphrase inside a group is no change.
- ``headings.yaml``: kinds ``heading_indications`` (a heading that turns the list under it into claimed
  indications; ``level`` is the strength those items get), ``heading_references``, and ``list_lead_in``
  (words by which a sentence points at the list after it: 次のような, "the following").

Forms may use brace alternation, ``improve{,s,d}`` → improve, improves, improved. ``stop_forms`` are
longer strings that contain a form but mean something else (うつ伏せ contains うつ); matching prefers the
longest string, so a stop form hides the shorter form inside it. An entry with ``overlap: true`` is
matched beside the first layer, so an effect on an object ("attacks cancer cells", がん細胞を攻撃) keeps the
indication inside it. ``after_number_forms`` only match right
after a digit (``%の患者`` in 90%の患者). ``verb_forms`` are English participles that count only as verbs
("sleep increased in most patients", "the drug increased potency"), not as adjectives before a noun
("show increased activity", "with increased risk"). A surface form may belong to one entry only: that
is what makes matching unambiguous, and loading fails otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from watcher.extract.normalize import fold_case, normalise

LEVEL_KINDS = frozenset(
    {
        "effect",
        "causal",
        "role",
        "proof",
        "expectation",
        "intensifier",
        "hedge",
        "attribution",
        "judgement",
        "assertion",
        "approval",
        "statistic",
        "offer",
        "endorsement",
        "research_stage",
        "ability",
    }
)
CUE_KINDS = LEVEL_KINDS | frozenset(
    {
        "correlation",
        "negation",
        "limitation",
        "disclaimer",
        "exclusion",
        "condition",
        "question_opener",
        "clause_break",
        "meta",
        "diagnostic",
        "authority",
        "measure",
    }
)
MARKER_KINDS = frozenset({"safety", "testimonial", "superlative", "recruitment"})
HEADING_KINDS = frozenset({"heading_indications", "heading_references", "list_lead_in"})
TERM_KINDS = frozenset({"indication", "treatment"})
ALL_KINDS = CUE_KINDS | MARKER_KINDS | HEADING_KINDS | TERM_KINDS

# Kinds whose ``group`` is compared between profiles (caveats and markers).
GROUPED_KINDS = frozenset({"limitation", "disclaimer", "research_stage"}) | MARKER_KINDS

DATA_FILES = ("indications.yaml", "treatments.yaml", "cues.yaml", "markers.yaml", "headings.yaml")

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_BRACES = re.compile(r"\{([^{}]*)\}")


class VocabularyError(ValueError):
    """A vocabulary file is malformed: a programming error in the shipped data, never user input."""


@dataclass(frozen=True, slots=True)
class Examples:
    positive: tuple[str, ...]
    negative: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    kind: str
    source: str
    forms: tuple[str, ...]
    examples: Examples
    exact_forms: tuple[str, ...] = ()
    after_number_forms: tuple[str, ...] = ()
    verb_forms: tuple[str, ...] = ()
    stop_forms: tuple[str, ...] = ()
    level: int | None = None
    group: str | None = None
    expect: int | None = None
    label_en: str | None = None
    label_ja: str | None = None
    symptom: bool = False
    overlap: bool = False  # matched in the second layer, beside the indication inside the form

    def all_forms(self) -> Iterator[str]:
        yield from self.forms
        yield from self.exact_forms
        yield from self.after_number_forms
        yield from self.verb_forms


@dataclass(frozen=True)
class Vocabulary:
    entries: tuple[Entry, ...]

    def of_kind(self, *kinds: str) -> tuple[Entry, ...]:
        return tuple(entry for entry in self.entries if entry.kind in kinds)

    def entry(self, entry_id: str) -> Entry:
        for entry in self.entries:
            if entry.id == entry_id:
                return entry
        raise KeyError(entry_id)

    @property
    def indication_ids(self) -> tuple[str, ...]:
        return tuple(entry.id for entry in self.of_kind("indication"))

    @property
    def symptom_ids(self) -> frozenset[str]:
        return frozenset(entry.id for entry in self.of_kind("indication") if entry.symptom)

    @property
    def treatment_ids(self) -> tuple[str, ...]:
        return tuple(entry.id for entry in self.of_kind("treatment"))


@cache
def indication_labels() -> dict[str, tuple[str | None, str | None]]:
    """Per indication id, its English and Japanese names, as people read them (dashboard, mails)."""
    return {entry.id: (entry.label_en, entry.label_ja) for entry in load_vocabulary().of_kind("indication")}


def indication_label(indication: str) -> str:
    """ "Parkinson's disease パーキンソン病" for parkinsons_disease: the names, else the id in words."""
    english, japanese = indication_labels().get(indication, (None, None))
    return " ".join(name for name in (english or indication.replace("_", " "), japanese) if name)


def expand_braces(form: str) -> list[str]:
    """``improve{,s,d}`` → [improve, improves, improved]; several brace groups multiply."""
    match = _BRACES.search(form)
    if match is None:
        return [form]
    head, tail = form[: match.start()], form[match.end() :]
    return [expanded for option in match.group(1).split(",") for expanded in expand_braces(head + option + tail)]


def match_key(form: str, *, exact: bool) -> str:
    """The string the matcher looks for: normalised, and case-folded unless the form is exact."""
    normalised = normalise(form)
    return normalised if exact else fold_case(normalised)


# libyaml's parser when PyYAML was built with it (several times faster than the pure-Python one, which
# every process that analyses claims would otherwise pay at start-up); the same safe subset either way.
YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load_vocabulary() -> Vocabulary:
    """The shipped vocabulary, parsed and validated once per process."""
    package = resources.files("watcher.claims") / "data"
    entries: list[Entry] = []
    for name in DATA_FILES:
        document = yaml.load((package / name).read_text(encoding="utf-8"), Loader=YAML_LOADER)
        entries.extend(parse_entries(document, source=name))
    vocabulary = Vocabulary(tuple(entries))
    validate(vocabulary)
    return vocabulary


def parse_entries(document: Any, *, source: str) -> list[Entry]:
    if not isinstance(document, Mapping) or not isinstance(document.get("entries"), list):
        raise VocabularyError(f"{source}: expected a mapping with an 'entries' list")
    default_kind = {"indications.yaml": "indication", "treatments.yaml": "treatment"}.get(source)
    return [_parse_entry(raw, source=source, default_kind=default_kind) for raw in document["entries"]]


def _parse_entry(raw: Any, *, source: str, default_kind: str | None) -> Entry:
    if not isinstance(raw, Mapping):
        raise VocabularyError(f"{source}: an entry is not a mapping: {raw!r}")
    entry_id = str(raw.get("id", ""))
    where = f"{source}:{entry_id or '?'}"
    kind = str(raw.get("kind", default_kind or ""))
    if kind in TERM_KINDS:
        forms = _strings(raw, "ja", where) + _strings(raw, "en", where) + _strings(raw, "old_names", where)
        exact = _strings(raw, "abbreviations", where)
        english = _strings(raw, "en", where)
        japanese = _strings(raw, "ja", where)
        label_en = english[0] if english else None
        label_ja = japanese[0] if japanese else None
    else:
        forms = _strings(raw, "forms", where)
        exact = _strings(raw, "exact_forms", where)
        label_en = label_ja = None
    examples = raw.get("examples")
    if not isinstance(examples, Mapping):
        raise VocabularyError(f"{where}: 'examples' with 'positive' and 'negative' lists is required")
    level = raw.get("level")
    expect = raw.get("expect")
    group = raw.get("group")
    return Entry(
        id=entry_id,
        kind=kind,
        source=source,
        forms=tuple(_expand_all(forms)),
        exact_forms=tuple(_expand_all(exact)),
        after_number_forms=tuple(_expand_all(_strings(raw, "after_number_forms", where))),
        verb_forms=tuple(_expand_all(_strings(raw, "verb_forms", where))),
        stop_forms=tuple(_expand_all(_strings(raw, "stop_forms", where))),
        level=int(level) if level is not None else None,
        group=str(group) if group is not None else None,
        expect=int(expect) if expect is not None else None,
        examples=Examples(
            positive=tuple(_strings(examples, "positive", where)),
            negative=tuple(_strings(examples, "negative", where)),
        ),
        label_en=label_en,
        label_ja=label_ja,
        symptom=bool(raw.get("symptom", False)),
        overlap=bool(raw.get("overlap", False)),
    )


def _strings(raw: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise VocabularyError(f"{where}: '{key}' must be a list of non-empty strings")
    return list(value)


def _expand_all(forms: Iterable[str]) -> Iterator[str]:
    for form in forms:
        yield from expand_braces(form)


def validate(vocabulary: Vocabulary) -> None:
    """Ids unique and well formed, levels where needed, examples present, every surface form owned once."""
    seen_ids: set[str] = set()
    # Heading-role words live in their own automaton, so they only need to be unique among themselves.
    owners: dict[bool, dict[str, str]] = {True: {}, False: {}}
    for entry in vocabulary.entries:
        owner_of = owners[entry.kind in HEADING_KINDS]
        where = f"{entry.source}:{entry.id}"
        if not _ID.match(entry.id):
            raise VocabularyError(f"{where}: id must be snake_case")
        if entry.id in seen_ids:
            raise VocabularyError(f"{where}: duplicate id")
        seen_ids.add(entry.id)
        if entry.kind not in ALL_KINDS:
            raise VocabularyError(f"{where}: unknown kind {entry.kind!r}")
        _validate_level(entry, where)
        if entry.kind in GROUPED_KINDS and not entry.group:
            raise VocabularyError(f"{where}: kind {entry.kind} needs a 'group'")
        if not list(entry.all_forms()):
            raise VocabularyError(f"{where}: no surface forms")
        if not entry.examples.positive or not entry.examples.negative:
            raise VocabularyError(f"{where}: needs positive and negative examples")
        keys = [match_key(form, exact=False) for form in (*entry.forms, *entry.after_number_forms, *entry.verb_forms)]
        keys += [match_key(form, exact=False) for form in entry.exact_forms]
        keys += [match_key(form, exact=False) for form in entry.stop_forms]
        for key in keys:
            if not key.strip():
                raise VocabularyError(f"{where}: a form is blank after normalisation")
            previous = owner_of.setdefault(key, entry.id)
            if previous != entry.id:
                raise VocabularyError(f"{where}: surface form {key!r} also belongs to {previous}")
        if len(keys) != len(set(keys)):
            duplicates = sorted({key for key in keys if keys.count(key) > 1})
            raise VocabularyError(f"{where}: repeated surface forms {duplicates}")


def _validate_level(entry: Entry, where: str) -> None:
    needs_level = entry.kind in LEVEL_KINDS or entry.kind in {"safety", "heading_indications"}
    if needs_level and entry.level is None:
        raise VocabularyError(f"{where}: kind {entry.kind} needs a 'level'")
    if entry.level is not None and not 0 <= entry.level <= 4:
        raise VocabularyError(f"{where}: level must be 0-4")
