"""Independent accuracy gate for the claim analyser (``watcher.claims``).

The labelled data in ``tests/claims_eval/`` was written without looking at the analyser's rules:

- ``sentences_ja.tsv`` / ``sentences_en.tsv``: ``strength<TAB>sentence``, strength on the DESIGN.md §4
  ladder (0 none/negated/excluded, 1 possibility, 2 expectation/reported, 3 assertion, 4 proof/statistic/
  guarantee). Scored per level with precision and recall of ``sentence_strength(sentence, lang=...)``.
- ``pairs.yaml``: old/new page texts with every finding a careful reader would raise. Scored per finding
  kind with precision and recall (micro over pairs) of ``compare_texts(old, new)``. A finding matches an
  expected item by kind plus indication id, or by kind plus a case-insensitive substring of its reference.
  Only the six kinds in ``SCORED_KINDS`` are scored; any other kind the analyser emits is ignored.

Run ``pytest -s tests/test_claims_eval.py`` to see the score tables. The shape tests keep the set from
silently shrinking and catch labelling slips (unknown ids, a reference that is not in the page text).
"""

from __future__ import annotations

import csv
import importlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import yaml

EVAL_DIR = Path(__file__).parent / "claims_eval"
LANGS = ("ja", "en")
PAIR_LANGS = frozenset({"ja", "en", "mixed"})
LEVELS = (0, 1, 2, 3, 4)
MIN_SCORE = 0.95
PAIR_KEYS = frozenset({"id", "lang", "hard_negative", "note", "old", "new", "expected"})
EXPECTED_KEYS = frozenset({"kind", "indication", "reference"})

MIN_SENTENCES_PER_LANG = 150
MIN_SENTENCES_PER_LEVEL = 25
MIN_PAIRS = 60
MIN_HARD_NEGATIVE_SHARE = 0.25

INDICATION_KINDS = frozenset({"new_indication", "claim_strengthened", "claim_weakened", "indication_removed"})
REFERENCE_KINDS = frozenset({"reference_removed", "reference_added"})
SCORED_KINDS = (
    "new_indication",
    "claim_strengthened",
    "claim_weakened",
    "indication_removed",
    "reference_removed",
    "reference_added",
)
KNOWN_INDICATIONS = frozenset(
    {
        "depression", "schizophrenia", "anxiety", "bipolar_disorder", "panic_disorder", "ocd", "ptsd",
        "adhd", "autism", "insomnia", "dementia", "alzheimers_disease", "parkinsons_disease", "stroke",
        "als", "multiple_sclerosis", "epilepsy", "migraine", "chronic_pain", "chronic_fatigue_syndrome",
        "long_covid", "eating_disorder", "addiction", "autonomic_dysfunction", "spinal_cord_injury",
        "traumatic_brain_injury", "cerebral_palsy", "neurodegenerative_disease", "osteoarthritis",
        "rheumatoid_arthritis", "atopic_dermatitis", "diabetes", "cancer", "infertility", "heart_failure",
        "hair_loss",
    }
)  # fmt: skip


# ----------------------------------------------------------------------------- data


def describe(kind: str, indication: str | None, reference: str | None) -> str:
    return f"{kind}({indication if kind in INDICATION_KINDS else reference})"


@dataclass(frozen=True)
class LabelledSentence:
    strength: int
    text: str


@dataclass(frozen=True)
class ExpectedFinding:
    kind: str
    indication: str | None = None
    reference: str | None = None

    def describe(self) -> str:
        return describe(self.kind, self.indication, self.reference)


@dataclass(frozen=True)
class GotFinding:
    kind: str
    indication: str | None
    reference: str | None

    def describe(self) -> str:
        return describe(self.kind, self.indication, self.reference)


@dataclass(frozen=True)
class Pair:
    id: str
    lang: str
    hard_negative: bool
    note: str
    old: str
    new: str
    expected: tuple[ExpectedFinding, ...]


def load_sentences(lang: str) -> list[LabelledSentence]:
    path = EVAL_DIR / f"sentences_{lang}.tsv"
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        assert header == ["strength", "sentence"], f"{path.name}: bad header {header}"
        rows: list[LabelledSentence] = []
        for line_no, row in enumerate(reader, start=2):
            assert len(row) == 2, f"{path.name}:{line_no}: expected 2 tab-separated fields, got {row}"
            rows.append(LabelledSentence(strength=int(row[0]), text=row[1]))
    return rows


def load_pairs() -> list[Pair]:
    with (EVAL_DIR / "pairs.yaml").open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    for item in raw:  # a misspelt key would otherwise be dropped silently
        assert set(item) == PAIR_KEYS, f"{item.get('id')}: keys {sorted(item)}"
        for e in item["expected"]:
            assert set(e) <= EXPECTED_KEYS, f"{item['id']}: expected keys {sorted(e)}"
    return [
        Pair(
            id=item["id"],
            lang=item["lang"],
            hard_negative=item["hard_negative"],
            note=item["note"],
            old=item["old"],
            new=item["new"],
            expected=tuple(
                ExpectedFinding(kind=e["kind"], indication=e.get("indication"), reference=e.get("reference"))
                for e in item["expected"]
            ),
        )
        for item in raw
    ]


SENTENCES: dict[str, list[LabelledSentence]] = {lang: load_sentences(lang) for lang in LANGS}
PAIRS: list[Pair] = load_pairs()


# ----------------------------------------------------------------------------- scoring


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        """Vacuously 1.0 when nothing was predicted (recall then shows any miss)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True)
class PairOutcome:
    pair_id: str
    matched: tuple[tuple[ExpectedFinding, GotFinding], ...]
    missed: tuple[ExpectedFinding, ...]
    spurious: tuple[GotFinding, ...]


def _text_or_none(value: object) -> str | None:
    """Findings may carry plain strings or (Str)Enum members; compare on the plain value."""
    if value is None:
        return None
    inner = getattr(value, "value", value)
    return inner if isinstance(inner, str) else str(inner)


def to_got(finding: object) -> GotFinding:
    return GotFinding(
        kind=_text_or_none(getattr(finding, "kind", None)) or "",
        indication=_text_or_none(getattr(finding, "indication", None)),
        reference=_text_or_none(getattr(finding, "reference", None)),
    )


def finding_matches(expected: ExpectedFinding, got: GotFinding) -> bool:
    if expected.kind != got.kind:
        return False
    if expected.kind in REFERENCE_KINDS:
        return (
            expected.reference is not None
            and got.reference is not None
            and expected.reference.casefold() in got.reference.casefold()
        )
    return expected.indication == got.indication


def match_findings(expected: Sequence[ExpectedFinding], got: Sequence[GotFinding]) -> dict[int, int]:
    """Maximum one-to-one matching (expected index -> got index) by augmenting paths.

    Greedy matching could pair a loose reference substring with the wrong finding and then report two
    errors where there is none; the sets are tiny, so the exact matching costs nothing.
    """
    candidates = [[j for j, g in enumerate(got) if finding_matches(e, g)] for e in expected]
    owner: dict[int, int] = {}  # got index -> expected index

    def assign(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or assign(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(expected)):
        assign(i, set())
    return {i: j for j, i in owner.items()}


def score_pair(pair: Pair, findings: Iterable[object]) -> PairOutcome:
    got = [g for g in map(to_got, findings) if g.kind in SCORED_KINDS]
    pairing = match_findings(pair.expected, got)
    used = set(pairing.values())
    return PairOutcome(
        pair_id=pair.id,
        matched=tuple((pair.expected[i], got[j]) for i, j in sorted(pairing.items())),
        missed=tuple(e for i, e in enumerate(pair.expected) if i not in pairing),
        spurious=tuple(g for j, g in enumerate(got) if j not in used),
    )


def tally_kinds(outcomes: Iterable[PairOutcome]) -> dict[str, Tally]:
    tallies = {kind: Tally() for kind in SCORED_KINDS}
    for outcome in outcomes:
        for expected, _ in outcome.matched:
            tallies[expected.kind].tp += 1
        for expected in outcome.missed:
            tallies[expected.kind].fn += 1
        for got in outcome.spurious:
            tallies[got.kind].fp += 1
    return tallies


def tally_levels(gold: Sequence[int], predicted: Sequence[int]) -> dict[str, Tally]:
    tallies = {str(level): Tally() for level in LEVELS}
    for want, have in zip(gold, predicted, strict=True):
        if want == have:
            tallies[str(want)].tp += 1
            continue
        tallies[str(want)].fn += 1
        if str(have) in tallies:
            tallies[str(have)].fp += 1
    return tallies


def format_table(title: str, tallies: Mapping[str, Tally]) -> str:
    lines = [title, f"{'':20} {'tp':>4} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7}"]
    total = Tally()
    for name, t in tallies.items():
        lines.append(f"{name:20} {t.tp:4} {t.fp:4} {t.fn:4} {t.precision:9.3f} {t.recall:7.3f}")
        total.tp, total.fp, total.fn = total.tp + t.tp, total.fp + t.fp, total.fn + t.fn
    lines.append(f"{'(micro)':20} {total.tp:4} {total.fp:4} {total.fn:4} {total.precision:9.3f} {total.recall:7.3f}")
    return "\n".join(lines)


def format_confusion(gold: Sequence[int], predicted: Sequence[int]) -> str:
    counts = Counter(zip(gold, predicted, strict=True))
    others = sorted({p for p in predicted if p not in LEVELS})
    columns = [*LEVELS, *others]
    lines = ["gold \\ got " + " ".join(f"{c:>4}" for c in columns)]
    lines.extend(f"{g:>11} " + " ".join(f"{counts[(g, c)]:4}" for c in columns) for g in LEVELS)
    return "\n".join(lines)


def below_threshold(tallies: Mapping[str, Tally]) -> list[str]:
    return [
        f"{name}: precision {t.precision:.3f}, recall {t.recall:.3f}"
        for name, t in tallies.items()
        if t.precision < MIN_SCORE or t.recall < MIN_SCORE
    ]


# ----------------------------------------------------------------------------- the set's own shape


@pytest.mark.parametrize("lang", LANGS)
def test_sentence_set_shape(lang: str) -> None:
    rows = SENTENCES[lang]
    assert len(rows) >= MIN_SENTENCES_PER_LANG, f"{lang}: only {len(rows)} sentences"
    per_level = Counter(row.strength for row in rows)
    assert set(per_level) == set(LEVELS), f"{lang}: levels present {sorted(per_level)}"
    thin = {level: n for level, n in per_level.items() if n < MIN_SENTENCES_PER_LEVEL}
    assert not thin, f"{lang}: levels with fewer than {MIN_SENTENCES_PER_LEVEL} sentences: {thin}"
    texts = [row.text for row in rows]
    duplicates = [text for text, n in Counter(texts).items() if n > 1]
    assert not duplicates, f"{lang}: duplicate sentences {duplicates}"
    assert all(text.strip() == text and text for text in texts), f"{lang}: empty or padded sentence"


def test_pair_set_shape() -> None:
    assert len(PAIRS) >= MIN_PAIRS, f"only {len(PAIRS)} pairs"
    ids = Counter(pair.id for pair in PAIRS)
    assert all(n == 1 for n in ids.values()), f"duplicate ids {[i for i, n in ids.items() if n > 1]}"
    hard = sum(pair.hard_negative for pair in PAIRS)
    assert hard / len(PAIRS) >= MIN_HARD_NEGATIVE_SHARE, f"hard negatives {hard}/{len(PAIRS)}"
    problems: list[str] = []
    for pair in PAIRS:
        problems.extend(f"{pair.id}: {problem}" for problem in pair_problems(pair))
    assert not problems, "\n".join(problems)
    kinds = Counter(e.kind for pair in PAIRS for e in pair.expected)
    assert set(kinds) == set(SCORED_KINDS), f"kinds covered: {dict(kinds)}"


def pair_problems(pair: Pair) -> list[str]:
    """Labelling slips in one pair; empty when the pair is well formed."""
    problems: list[str] = []
    if pair.lang not in PAIR_LANGS:
        problems.append(f"unknown lang {pair.lang!r}")
    if not pair.note.strip() or not pair.old.strip() or not pair.new.strip():
        problems.append("empty note, old or new")
    if pair.old == pair.new:
        problems.append("old and new are identical")
    if pair.hard_negative != (not pair.expected):
        problems.append("hard_negative must be true exactly when expected is empty")
    if len(set(pair.expected)) != len(pair.expected):
        problems.append("an expected finding is listed twice")
    for e in pair.expected:
        if e.kind in INDICATION_KINDS:
            if e.indication not in KNOWN_INDICATIONS or e.reference is not None:
                problems.append(f"{e.describe()}: needs a known indication id and no reference")
        elif e.kind in REFERENCE_KINDS:
            page = pair.old if e.kind == "reference_removed" else pair.new
            if not e.reference or e.indication is not None or e.reference.casefold() not in page.casefold():
                problems.append(f"{e.describe()}: reference must be a substring of the {e.kind} page")
        else:
            problems.append(f"unknown kind {e.kind!r}")
    new_ones = {e.indication for e in pair.expected if e.kind == "new_indication"}
    doubled = {e.indication for e in pair.expected if e.kind != "new_indication"} & new_ones
    if doubled:
        problems.append(f"new_indication also listed under another kind: {sorted(map(str, doubled))}")
    return problems


# ----------------------------------------------------------------------------- the analyser's score


@pytest.fixture(scope="module")
def claims() -> ModuleType:
    # A plain import, not importorskip: a missing analyser must fail this gate, not skip it.
    return importlib.import_module("watcher.claims")


@pytest.mark.parametrize("lang", LANGS)
def test_sentence_strength(claims: ModuleType, lang: str) -> None:
    rows = SENTENCES[lang]
    gold = [row.strength for row in rows]
    predicted = [int(claims.sentence_strength(row.text, lang=lang)) for row in rows]
    tallies = tally_levels(gold, predicted)
    print(f"\n{format_table(f'sentence strength ({lang}, {len(rows)} sentences)', tallies)}")
    print(format_confusion(gold, predicted))
    failing = below_threshold(tallies)
    misses = [
        f"  gold {row.strength} got {p}: {row.text}"
        for row, p in zip(rows, predicted, strict=True)
        if row.strength != p
    ]
    assert not failing, "\n".join([*failing, f"{len(misses)} misses:", *misses])


def test_pair_findings(claims: ModuleType) -> None:
    outcomes = [score_pair(pair, claims.compare_texts(pair.old, pair.new)) for pair in PAIRS]
    tallies = tally_kinds(outcomes)
    print(f"\n{format_table(f'findings ({len(PAIRS)} pairs)', tallies)}")
    failing = below_threshold(tallies)
    misses = [
        f"  {o.pair_id}: expected {[e.describe() for e in o.missed]} "
        f"got unexpected {[g.describe() for g in o.spurious]}"
        for o in outcomes
        if o.missed or o.spurious
    ]
    assert not failing, "\n".join([*failing, f"{len(misses)} pairs with misses:", *misses])
