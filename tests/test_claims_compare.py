"""compare()/compare_texts(): the findings between two versions of a page."""

from __future__ import annotations

import pytest

from watcher.claims import Finding, analyze, compare, compare_texts

BASE = """# NMN点滴について
2024.05.01 更新
NMN点滴は疲れやすさを和らげる可能性があります。
## 料金
1回 15,000円
## 参考文献
- Sato H, Jones C. NMN and energy. J Aging Sci. 2020;4(1):10-18. doi:10.1000/jas.2020.010
- Kim Y. NAD+ decline with age. Gerontol Lett. 2019;14:77-84.
"""


def kinds(findings: list[Finding]) -> list[tuple[str, str | None]]:
    return [(finding.kind, finding.indication or finding.reference or finding.group) for finding in findings]


CASES = [
    (
        "new indication from a new sentence",
        BASE,
        BASE.replace("## 料金", "NMN点滴はうつ病の改善にも効果があります。\n## 料金"),
        [("new_indication", "depression")],
    ),
    (
        "new indication from a list under an indications heading",
        "# TMS\nTMS is a treatment for depression that improves mood.\n",
        "# TMS\nTMS is a treatment for depression that improves mood.\n## Targeted Conditions\n- OCD\n- Schizophrenia\n",
        [("new_indication", "ocd"), ("new_indication", "schizophrenia")],
    ),
    (
        "a first claim is a new indication, never also a strengthening",
        "# エクソソーム\n統合失調症の原因には諸説あります。\n",
        "# エクソソーム\n統合失調症の症状がエクソソームで確実に改善します。\n",
        [("new_indication", "schizophrenia")],
    ),
    (
        "hedge to proof is a strengthening",
        "Exosomes may ease migraine.\n",
        "Exosomes significantly reduced migraine attacks in 80% of our patients.\n",
        [("claim_strengthened", "migraine")],
    ),
    (
        "attribution to assertion",
        "幹細胞治療は変形性膝関節症に有効だと言われています。\n",
        "幹細胞治療は変形性膝関節症に有効です。\n",
        [("claim_strengthened", "osteoarthritis")],
    ),
    (
        "a removed reference",
        BASE,
        BASE.replace("- Kim Y. NAD+ decline with age. Gerontol Lett. 2019;14:77-84.\n", ""),
        [("reference_removed", "Kim Y. NAD+ decline with age. Gerontol Lett. 2019;14:77-84.")],
    ),
    (
        "a dropped disclaimer",
        "TMSはうつ病に有効です。\n※効果には個人差があります。\n",
        "TMSはうつ病に有効です。\n",
        [("caveat_removed", "individual_variation")],
    ),
    (
        "a dropped limitation",
        "NMN may improve sleep. More research is needed.\n",
        "NMN may improve sleep.\n",
        [("caveat_removed", "further_research")],
    ),
    (
        "safety claim becomes absolute",
        "TMSは副作用が少ない治療です。\n",
        "TMSは副作用がない治療です。\n",
        [("safety_claim_added", "no_side_effects")],
    ),
    (
        "testimonials, superlatives and recruitment appear",
        "# PRP\nPRP injections relieve knee pain.\n",
        "# PRP\nPRP injections relieve knee pain.\nWe are the best PRP clinic in Osaka.\n"
        "## Patient stories\nNow recruiting model patients wanted for a discounted course.\n",
        [
            ("testimonial_added", "testimonials"),
            ("superlative_added", "best"),
            ("trial_or_monitor_recruitment", "trial"),
            ("trial_or_monitor_recruitment", "monitor"),
        ],
    ),
    (
        "a claim that falls to a negation is weakened, not removed",
        "TMS relieves tinnitus.\n",
        "TMS has not been shown to relieve tinnitus.\n",
        [("claim_weakened", "tinnitus")],
    ),
    (
        "an indication that leaves the page is removed",
        "TMS relieves tinnitus.\nTMS relieves depression.\n",
        "TMS relieves depression.\n",
        [("indication_removed", "tinnitus")],
    ),
    (
        "an added reference",
        "Exosomes may help stroke recovery.\n",
        "Exosomes may help stroke recovery.\n## References\n- PMID: 31234567\n",
        [("reference_added", "PMID: 31234567")],
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), CASES, ids=[case[0] for case in CASES])
def test_findings(name: str, old: str, new: str, expected: list[tuple[str, str | None]]) -> None:
    assert sorted(kinds(compare_texts(old, new)), key=str) == sorted(expected, key=str)


NO_CHANGE = [
    ("date, price and menu", BASE.replace("2024.05.01", "2025.01.15").replace("15,000円", "18,000円")),
    (
        "equal-strength paraphrase",
        BASE.replace("疲れやすさを和らげる可能性があります", "疲れやすさを軽くするかもしれません"),
    ),
    (
        "reformatted references",
        BASE.replace(
            "- Sato H, Jones C. NMN and energy. J Aging Sci. 2020;4(1):10-18. doi:10.1000/jas.2020.010",
            "- Sato H et al. (2020) NMN and energy. J Aging Sci 4:10-18. https://doi.org/10.1000/JAS.2020.010",
        ).replace(
            "- Kim Y. NAD+ decline with age. Gerontol Lett. 2019;14:77-84.",
            "- Yuna Kim, NAD+ decline with age, Gerontol Lett, 2019, 14, 77-84",
        ),
    ),
    ("sidebar and footer", BASE + "最近の投稿\n- 年末年始の休診のお知らせ\nTEL 03-0000-0000 (10:00~19:00)\n"),
    ("question heading added", BASE + "## NMNは自閉症に効きますか?\n"),
    ("mechanism sentence added", BASE + "うつ病や統合失調症には炎症が関与しています。\n"),
    ("a disclaimer added", BASE + "※効果には個人差があります。\n"),
]


@pytest.mark.parametrize(("name", "new"), NO_CHANGE, ids=[case[0] for case in NO_CHANGE])
def test_no_findings(name: str, new: str) -> None:
    assert compare_texts(BASE, new) == []


def test_finding_fields_and_order() -> None:
    old = "Exosomes may ease migraine.\n## References\n- PMID: 31234567\n"
    new = "Exosomes cure migraine.\nExosomes relieve insomnia.\n"
    findings = compare_texts(old, new)
    assert [finding.kind for finding in findings] == ["new_indication", "claim_strengthened", "reference_removed"]
    strengthened = findings[1]
    assert (strengthened.strength_before, strengthened.strength_after) == (1, 4)
    assert strengthened.before == "Exosomes may ease migraine."
    assert strengthened.after == "Exosomes cure migraine."
    assert strengthened.severity == "high"
    assert strengthened.treatments == ("exosome",)
    assert findings[2].severity == "high"  # no reference left
    assert findings[2].to_dict()["key"] == findings[2].key()


def test_keys_are_stable_and_distinct() -> None:
    first = compare_texts("TMS may help OCD.\n", "TMS cures OCD.\nTMS relieves PTSD.\n")
    again = compare(analyze("TMS may help OCD.\n"), analyze("TMS cures OCD.\nTMS relieves PTSD.\n"))
    assert [finding.key() for finding in first] == [finding.key() for finding in again]
    assert len({finding.key() for finding in first}) == len(first)
    assert first == again


def test_compare_is_empty_for_identical_profiles() -> None:
    profile = analyze(BASE)
    assert compare(profile, profile) == []
