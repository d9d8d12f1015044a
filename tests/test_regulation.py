"""The regulator's lens in the analyser: every rule's own examples, disclosures as page state, the
``disclosure_removed`` finding and the categories findings carry. Cases written for this project."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest

from watcher.claims import ANALYSER_VERSION, ClaimProfile, analyze, compare, compare_texts
from watcher.claims.compare import DISCLOSURE_REMOVED, KINDS
from watcher.claims.regulation import (
    FREE_TREATMENT,
    UNAPPROVED,
    RegulationDataError,
    Rule,
    check_category,
    forms_in,
    load_rules,
    parse_rules,
)
from watcher.extract.normalize import fold_case, normalise

RULES = load_rules()
EXAMPLES = [
    pytest.param(rule, text, positive, id=f"{rule.id}-{'pos' if positive else 'neg'}{index}")
    for rule in RULES.rules
    for positive, texts in ((True, rule.positive), (False, rule.negative))
    for index, text in enumerate(texts)
]


@pytest.mark.parametrize(("rule", "text", "positive"), EXAMPLES)
def test_every_rule_example(rule: Rule, text: str, positive: bool) -> None:
    """A positive example yields the rule's category (with the sentence as evidence) or disclosure item;
    a negative one yields neither."""
    profile = analyze(text)
    category, item = rule.category, rule.disclosure
    if category:
        found = [hit for hit in profile.categories if hit.category == category]
        assert bool(found) is positive, (text, profile.categories)
    else:
        assert (item in profile.disclosures.present) is positive, (text, profile.disclosures)


def test_examples_cover_every_detected_category_and_every_item_in_both_languages_where_they_exist() -> None:
    detected = {label.id for label in RULES.categories if label.detected} - {"missing_disclosure"}
    assert {rule.category for rule in RULES.rules if rule.category} == detected
    assert {rule.disclosure for rule in RULES.rules if rule.disclosure} == {label.id for label in RULES.disclosures}
    for category in ("false_advertising", "comparative_superiority", "testimonial"):
        languages = {rule.lang for rule in RULES.rules if rule.category == category}
        assert {"ja", "en"} <= languages or "any" in languages, category
    for label in (*RULES.categories, *RULES.disclosures):
        assert label.source and label.ja and label.en, label.id


RECORDED_REGULATION = ("1.3.0", "6c524cc95416968e")


def test_rules_change_bumps_the_analyser_version() -> None:
    data = (resources.files("watcher.claims") / "data" / "regulation.yaml").read_bytes()
    fingerprint = hashlib.sha256(data).hexdigest()[:16]
    assert (ANALYSER_VERSION, fingerprint) == RECORDED_REGULATION, (
        f"regulation.yaml changed: bump ANALYSER_VERSION and record ({ANALYSER_VERSION!r}, {fingerprint!r})"
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"categories": [], "disclosures": [], "entries": [{"match": [["x"]]}]}, "without an id"),
        (
            {
                "categories": [{"id": "c", "ja": "シー", "en": "c", "source": "s"}],
                "disclosures": [],
                "entries": [
                    {
                        "id": "r",
                        "category": "nope",
                        "match": [["x"]],
                        "examples": {"positive": ["x"], "negative": ["y"]},
                    }
                ],
            },
            "known category",
        ),
        (
            {
                "categories": [{"id": "c", "ja": "シー", "en": "c", "source": "s"}],
                "disclosures": [],
                "entries": [{"id": "r", "category": "c", "match": [["x"]], "examples": {"positive": ["x"]}}],
            },
            "positive and negative",
        ),
        (
            {
                "categories": [{"id": "c", "ja": "シー", "en": "c", "source": "s"}],
                "disclosures": [],
                "entries": [
                    {
                        "id": "r",
                        "category": "c",
                        "match": [["x"]],
                        "claim": {"min_strength": 3},
                        "examples": {"positive": ["x"], "negative": ["y"]},
                    }
                ],
            },
            "exactly one of",
        ),
    ],
)
def test_malformed_rules_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(RegulationDataError, match=message):
        parse_rules(raw)


FULL_DISCLOSURE = """# 幹細胞培養上清液の点滴
当院では培養上清液の点滴を行っています。
治療内容:培養上清液を生理食塩水に溶かして点滴します。
費用:1回55,000円(税込)。
治療期間の目安は3か月、回数は6回程度です。
主なリスク・副作用:内出血、頭痛、発熱が起こることがあります。
本治療に用いる培養上清液は、医薬品医療機器等法上の未承認医薬品です。
入手経路:国内の製造業者から医師の責任のもと購入しています。
国内で承認されている同一の成分の医薬品はありません。
諸外国において安全性に関する情報は十分に得られていません。
"""


@pytest.mark.parametrize(
    ("text", "scopes", "missing"),
    [
        pytest.param(FULL_DISCLOSURE, (FREE_TREATMENT, UNAPPROVED), (), id="unapproved-all-stated"),
        pytest.param(
            "# 培養上清液の点滴\n培養上清液の点滴は1回55,000円(税込)です。\n",
            (FREE_TREATMENT, UNAPPROVED),
            (
                "treatment_content",
                "period_and_sessions",
                "risks_side_effects",
                "unapproved_status",
                "acquisition_route",
                "domestic_alternative",
                "foreign_safety_info",
            ),
            id="unapproved-cost-only",
        ),
        pytest.param(
            "# TMS治療\nTMS治療は自由診療です。\n治療内容:頭に磁気を当てます。\n1回15,000円です。\n週2回、合計30回程度です。\n"
            "主な副作用は頭痛です。\n",
            (FREE_TREATMENT,),
            (),
            id="free-treatment-all-stated",
        ),
        pytest.param(
            "# TMS治療\nTMS治療は保険適用外です。\n副作用の心配はありません。\n",
            (FREE_TREATMENT,),
            ("treatment_content", "typical_cost", "period_and_sessions", "risks_side_effects"),
            id="no-side-effects-is-no-risk-disclosure",
        ),
        pytest.param("# 院長あいさつ\n地域の皆さまの健康を支えます。\n", (), (), id="no-treatment-no-scope"),
        pytest.param(
            "# Exosome therapy\nOur exosome infusion costs 500 dollars per session.\n",
            (),
            (),
            id="english-page-no-japanese-disclosure-law",
        ),
    ],
)
def test_disclosures_are_page_state(text: str, scopes: tuple[str, ...], missing: tuple[str, ...]) -> None:
    disclosures = analyze(text).disclosures
    assert disclosures.scopes == scopes
    assert disclosures.missing == missing


def test_disclosure_removed_when_an_item_disappears_and_never_for_an_item_missing_from_the_start() -> None:
    without_route = FULL_DISCLOSURE.replace("入手経路:国内の製造業者から医師の責任のもと購入しています。\n", "")
    findings = compare_texts(FULL_DISCLOSURE, without_route)
    removed = [finding for finding in findings if finding.kind == DISCLOSURE_REMOVED]
    assert [(f.group, f.categories) for f in removed] == [("acquisition_route", ("missing_disclosure",))]
    assert removed[0].before is not None and "入手経路" in removed[0].before
    assert not [
        f for f in compare_texts(without_route, without_route + "院内は禁煙です。\n") if f.kind == DISCLOSURE_REMOVED
    ]
    # Put back, then removed again: the same identity, so the alert layer merges it (flip-flop rule).
    again = [f for f in compare_texts(FULL_DISCLOSURE, without_route) if f.kind == DISCLOSURE_REMOVED]
    assert again[0].key() == removed[0].key()
    assert DISCLOSURE_REMOVED in KINDS


def test_profiles_stored_before_the_regulator_lens_still_load() -> None:
    data = analyze(FULL_DISCLOSURE).to_dict()
    del data["categories"], data["disclosures"]
    data["analyser_version"] = "1.2.0"
    old = ClaimProfile.from_dict(data)
    assert old.categories == () and old.disclosures.present == {}
    new = analyze(FULL_DISCLOSURE)
    assert ClaimProfile.from_dict(new.to_dict()) == new
    assert DISCLOSURE_REMOVED not in {finding.kind for finding in compare(old, new)}


@pytest.mark.parametrize(
    ("old", "new", "kind", "categories"),
    [
        (
            "エクソソーム点滴はうつ病の改善が期待されています。",
            "エクソソーム点滴でうつ病が改善することが臨床試験で証明されています。",
            "claim_strengthened",
            ("exaggeration", "unapproved_product_claim"),
        ),
        (
            "TMS治療はうつ病の改善が期待されています。",
            "TMS治療はうつ病を必ず改善します。",
            "claim_strengthened",
            ("false_advertising",),
        ),
        ("当院は新宿にあります。", "当院の症例数は日本一です。", "superlative_added", ("comparative_superiority",)),
        ("TMS has few side effects.", "TMS has no side effects.", "safety_claim_added", ("false_advertising",)),
        ("Read our treatment guide.", "Read our patient testimonials.", "testimonial_added", ("testimonial",)),
        (
            "当院は新宿にあります。",
            "治療のビフォーアフター写真を掲載しています。",
            "testimonial_added",
            ("before_after_photo",),
        ),
    ],
)
def test_findings_carry_the_categories_of_their_new_sentence(
    old: str, new: str, kind: str, categories: tuple[str, ...]
) -> None:
    found = [finding for finding in compare_texts(old, new) if finding.kind == kind]
    assert found and found[0].categories == categories
    assert found[0].to_dict()["categories"] == list(categories)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("testimonial", "testimonial"),
        ("体験談", "testimonial"),
        ("Comparative superiority", "comparative_superiority"),
        ("比較優良広告", "comparative_superiority"),
    ],
)
def test_category_names_in_either_language(value: str, expected: str) -> None:
    assert check_category(value) == expected


def test_unknown_category_names_the_ids() -> None:
    with pytest.raises(ValueError, match="false_advertising"):
        check_category("fake")


def test_the_forms_prefilter_rules_out_only_what_cannot_match() -> None:
    """``forms_in`` skips a phrase rule's regular expressions when one of its groups has no literal form in
    the page: on every rule's examples, each alone and all joined, the answer is the regex-only one."""
    rules = load_rules().rules
    examples = [fold_case(normalise(text)) for rule in rules for text in (*rule.positive, *rule.negative)]
    texts = [*examples, "\n".join(examples), "\n".join(examples[::3])]
    skipped = 0
    for text in texts:
        occurring = forms_in(text)
        for rule in rules:
            assert rule.possible_in(text, occurring) == rule.possible_in(text), (rule.id, text)
            skipped += rule.match != () and any(occurring.isdisjoint(group) for group in rule.forms)
    assert skipped > len(texts)  # the prefilter did rule rules out
