"""The vocabulary as data: every entry's own examples, and the rules that keep matching unambiguous."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from watcher.claims import ANALYSER_VERSION, analyze
from watcher.claims.sections import INDICATIONS, REFERENCES, heading_role, list_lead_in
from watcher.claims.strength import assess, sentence_strength
from watcher.claims.vocabulary import (
    HEADING_KINDS,
    LEVEL_KINDS,
    MARKER_KINDS,
    Entry,
    VocabularyError,
    expand_braces,
    load_vocabulary,
    match_key,
    parse_entries,
    validate,
)

VOCABULARY = load_vocabulary()
REQUIRED_INDICATIONS = {
    "depression", "schizophrenia", "anxiety", "bipolar_disorder", "panic_disorder", "ocd", "ptsd", "adhd",
    "autism", "insomnia", "dementia", "alzheimers_disease", "parkinsons_disease", "stroke", "als",
    "multiple_sclerosis", "epilepsy", "migraine", "chronic_pain", "chronic_fatigue_syndrome", "long_covid",
    "eating_disorder", "addiction", "autonomic_dysfunction", "spinal_cord_injury", "traumatic_brain_injury",
    "cerebral_palsy", "neurodegenerative_disease", "osteoarthritis", "rheumatoid_arthritis",
    "atopic_dermatitis", "diabetes", "cancer", "infertility", "heart_failure", "hair_loss",
}  # fmt: skip
REQUIRED_TREATMENTS = {
    "exosome", "culture_supernatant", "stem_cells", "nmn", "tms", "vitamin_c_infusion", "prp", "ozone_therapy",
    "nad", "placenta",
}  # fmt: skip
ROLE_OF_KIND = {"heading_indications": INDICATIONS, "heading_references": REFERENCES}


def examples(kinds: frozenset[str] | set[str]) -> list[tuple[str, bool, str]]:
    return [
        (entry.id, positive, sentence)
        for entry in VOCABULARY.entries
        if entry.kind in kinds
        for positive, sentences in ((True, entry.examples.positive), (False, entry.examples.negative))
        for sentence in sentences
    ]


def expected_level(entry: Entry) -> int:
    if entry.expect is not None:
        return entry.expect
    return entry.level if entry.kind in LEVEL_KINDS and entry.level is not None else 0


CUE_KINDS = {entry.kind for entry in VOCABULARY.entries} - MARKER_KINDS - HEADING_KINDS - {"indication", "treatment"}


@pytest.mark.parametrize(("entry_id", "positive", "sentence"), examples({"indication"}))
def test_indication_examples(entry_id: str, positive: bool, sentence: str) -> None:
    profile = analyze(sentence)
    assert (entry_id in profile.indications) is positive, profile.to_dict()


@pytest.mark.parametrize(("entry_id", "positive", "sentence"), examples({"treatment"}))
def test_treatment_examples(entry_id: str, positive: bool, sentence: str) -> None:
    found = {mention.entry_id for mention in assess(sentence).treatments}
    assert (entry_id in found) is positive


@pytest.mark.parametrize(("entry_id", "positive", "sentence"), examples(CUE_KINDS))
def test_cue_examples(entry_id: str, positive: bool, sentence: str) -> None:
    """A positive sentence scores the cue's level (0 for cues that zero a clause); a negative one does not."""
    level = expected_level(VOCABULARY.entry(entry_id))
    assert (sentence_strength(sentence) == level) is positive


@pytest.mark.parametrize(("entry_id", "positive", "sentence"), examples(MARKER_KINDS))
def test_marker_examples(entry_id: str, positive: bool, sentence: str) -> None:
    found = {mention.entry_id for mention in assess(sentence).markers}
    assert (entry_id in found) is positive


@pytest.mark.parametrize(("entry_id", "positive", "sentence"), examples(HEADING_KINDS - {"list_lead_in"}))
def test_heading_examples(entry_id: str, positive: bool, sentence: str) -> None:
    role = heading_role(sentence.lstrip("# "))
    wanted = ROLE_OF_KIND[VOCABULARY.entry(entry_id).kind]
    assert (role is not None and role.role == wanted) is positive


@pytest.mark.parametrize(("entry_id", "positive", "sentence"), examples({"list_lead_in"}))
def test_list_lead_in_examples(entry_id: str, positive: bool, sentence: str) -> None:
    role = list_lead_in(sentence)
    assert (role is not None and role.role == INDICATIONS) is positive


def test_coverage() -> None:
    indications = set(VOCABULARY.indication_ids)
    assert len(indications) >= 60
    assert indications >= REQUIRED_INDICATIONS
    assert set(VOCABULARY.treatment_ids) >= REQUIRED_TREATMENTS
    # every level of the ladder has cues in both languages
    for kind in ("effect", "proof", "intensifier", "expectation", "attribution", "hedge", "negation"):
        languages = {
            "en" if form.isascii() else "ja" for entry in VOCABULARY.of_kind(kind) for form in entry.all_forms()
        }
        assert languages == {"en", "ja"}, kind


def test_old_names_and_variants_map_to_one_id() -> None:
    for sentence, indication in [
        ("精神分裂病の症状が改善します。", "schizophrenia"),
        ("鬱病の症状が改善します。", "depression"),
        ("抑うつ症状が改善します。", "depression"),
        ("自閉スペクトラム症の症状が改善します。", "autism"),
        ("ASDの症状が改善します。", "autism"),
        ("躁うつ病の症状が改善します。", "bipolar_disorder"),  # not depression: the longest form wins
        ("アルツハイマー型認知症の症状が改善します。", "alzheimers_disease"),
    ]:
        assert set(analyze(sentence).indications) == {indication}, sentence


def test_ids_are_unique_and_snake_case() -> None:
    ids = [entry.id for entry in VOCABULARY.entries]
    assert len(ids) == len(set(ids))
    assert all(entry_id.replace("_", "").isalnum() and entry_id.islower() for entry_id in ids)


def test_surface_forms_are_unambiguous() -> None:
    """No surface form (after NFKC and case folding) belongs to two entries of one automaton."""
    for in_headings in (False, True):
        owners: dict[str, set[str]] = {}
        for entry in VOCABULARY.entries:
            if (entry.kind in HEADING_KINDS) is not in_headings:
                continue
            for form in (*entry.all_forms(), *entry.stop_forms):
                owners.setdefault(match_key(form, exact=False), set()).add(entry.id)
        shared = {form: ids for form, ids in owners.items() if len(ids) > 1}
        assert not shared


def test_validation_rejects_shared_forms() -> None:
    document = {
        "entries": [
            {"id": "first", "en": ["multiple sclerosis"], "examples": {"positive": ["a"], "negative": ["b"]}},
            {"id": "second", "en": ["ＭＵＬＴＩＰＬＥ Sclerosis"], "examples": {"positive": ["a"], "negative": ["b"]}},
        ]
    }
    entries = parse_entries(document, source="indications.yaml")
    with pytest.raises(VocabularyError, match="also belongs to first"):
        validate(type(VOCABULARY)(tuple(entries)))


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "Bad-Id", "ja": ["x"], "examples": {"positive": ["a"], "negative": ["b"]}},
        {"id": "no_examples", "ja": ["x"]},
        {"id": "no_negative", "ja": ["x"], "examples": {"positive": ["a"], "negative": []}},
        {"id": "no_forms", "examples": {"positive": ["a"], "negative": ["b"]}},
    ],
)
def test_validation_rejects_malformed_entries(raw: dict[str, object]) -> None:
    with pytest.raises(VocabularyError):
        validate(type(VOCABULARY)(tuple(parse_entries({"entries": [raw]}, source="indications.yaml"))))


def test_brace_expansion() -> None:
    assert expand_braces("improve{,s,d}") == ["improve", "improves", "improved"]
    assert expand_braces("{a,b}{1,2}") == ["a1", "a2", "b1", "b2"]
    assert expand_braces("plain") == ["plain"]


# Stored profiles are re-derived when ANALYSER_VERSION changes, so a vocabulary change must bump it.
# After editing data/*.yaml: bump ANALYSER_VERSION in watcher/claims/profile.py and record both here.
RECORDED_VOCABULARY = ("1.3.0", "3b01aa071b62bca3")


def vocabulary_fingerprint() -> str:
    # Every data file, the regulation rules (watcher.claims.regulation) included, not only DATA_FILES.
    digest = hashlib.sha256()
    data = resources.files("watcher.claims") / "data"
    for name in sorted(entry.name for entry in data.iterdir() if entry.name.endswith(".yaml")):
        digest.update((data / name).read_bytes())
    return digest.hexdigest()[:16]


def test_vocabulary_change_bumps_the_analyser_version() -> None:
    recorded_version, recorded_fingerprint = RECORDED_VOCABULARY
    if vocabulary_fingerprint() != recorded_fingerprint:
        assert recorded_version != ANALYSER_VERSION, (
            "data/*.yaml changed: bump ANALYSER_VERSION in watcher/claims/profile.py, then record "
            f"({ANALYSER_VERSION!r}, {vocabulary_fingerprint()!r}) in RECORDED_VOCABULARY"
        )
    assert (ANALYSER_VERSION, vocabulary_fingerprint()) == RECORDED_VOCABULARY, (
        f"record ({ANALYSER_VERSION!r}, {vocabulary_fingerprint()!r}) in RECORDED_VOCABULARY"
    )
