"""analyze(): headings as context, mechanism sentences, references, markers, caveats, JSON round-trip."""

from __future__ import annotations

import json

import pytest

from watcher.claims import ANALYSER_VERSION, ClaimProfile, analyze
from watcher.claims.references import first_author_surname, parse_reference
from watcher.claims.segment import split_sentences

JA_PAGE = """# エクソソーム点滴と心の不調
2025.02.01|ブログ
エクソソームは細胞から分泌される小さな小胞です。
うつ病や統合失調症には脳の炎症が関与していると言われています。
エクソソームは炎症を抑えることで、うつ病の症状を和らげる可能性があります。
## 適応可能な症状
- うつ病
- 不安障害
- 認知症(効果が期待されています)
## 治療を受けられない方
- てんかんの方
- 妊娠中の方
## よくある質問
### エクソソームは自閉症に効きますか?
現在のところ、研究段階です。
※効果には個人差があります。
## 参考文献
- 山田太郎, 小さな小胞の働き, 再生医学雑誌 12(3): 45-52, 2019
- Smith AB, Jones C. Exosomes and mood. J Regen Psych. 2021;8(2):101-110. doi:10.1000/jrp.2021.0101
"""

EN_PAGE = """# TMS Therapy
TMS is an FDA-cleared treatment that improves depression.
## Conditions we treat
- Depression
- OCD
- Anxiety (may help)
## Contraindications
- Epilepsy
## Does TMS help autism?
We are studying this question.
"""


def test_japanese_page_scope_rules() -> None:
    profile = analyze(JA_PAGE)
    claimed = {key: claim.strength for key, claim in profile.indications.items()}
    # the list under 「適応可能な症状」 claims each item; the item's own hedge lowers it
    assert claimed == {"depression": 3, "anxiety": 3, "dementia": 2}
    # the mechanism sentence names schizophrenia without claiming it; the FAQ heading asks about autism
    assert "schizophrenia" in profile.mentioned
    assert "autism" in profile.mentioned
    # the list under 「治療を受けられない方」 excludes epilepsy
    assert set(profile.excluded) == {"epilepsy"}
    assert profile.treatments == ("exosome",)
    assert profile.indications["depression"].treatments == ("exosome",)
    assert {caveat.group for caveat in profile.caveats} == {"experimental", "individual_variation"}
    assert profile.language == "ja"


def test_english_page_scope_rules() -> None:
    profile = analyze(EN_PAGE)
    claimed = {key: claim.strength for key, claim in profile.indications.items()}
    # FDA clearance is approval wording: the strongest claim a page makes about a use
    assert claimed == {"depression": 4, "ocd": 3, "anxiety": 1}
    assert profile.indications["depression"].evidence[0] == "TMS is an FDA-cleared treatment that improves depression."
    assert set(profile.excluded) == {"epilepsy"}
    assert "autism" in profile.mentioned and "autism" not in profile.indications


def test_plain_capture_with_short_line_headings() -> None:
    """A capture without '#' marks: a short line names the list; a blank line ends it."""
    page = "エクソソーム治療について\n\n適応となる疾患\nうつ病\n統合失調症\n\n院内のご案内\n駐車場があります\n"
    profile = analyze(page)
    assert {key: claim.strength for key, claim in profile.indications.items()} == {
        "depression": 3,
        "schizophrenia": 3,
    }


def test_hedged_heading_caps_its_list() -> None:
    page = "# 改善が期待できる症状\n- 不眠症\n- 片頭痛\n# Who may benefit\n- Insomnia\n"
    profile = analyze(page)
    assert profile.indications["migraine"].strength == 2
    assert profile.indications["insomnia"].strength == 2


def test_list_item_saying_more_than_its_heading() -> None:
    page = "# 対象疾患\n- うつ病:90%の患者で寛解しました\n- 統合失調症:効果は証明されていません\n"
    profile = analyze(page)
    assert profile.indications["depression"].strength == 4
    assert "schizophrenia" not in profile.indications


@pytest.mark.parametrize(
    "page",
    [
        "# Our blog\n## This post will discuss the following:\n- Sleep and mood\n- Anxiety\n- TMS improves depression.\n",
        "# ブログ\n## この記事では次のような内容を解説します:\n- 睡眠と気分\n- 不安障害\n- TMS治療はうつ病を改善します。\n",
    ],
)
def test_heading_that_only_points_ahead(page: str) -> None:
    """A heading holding a list lead-in and nothing else (as on a real article page) gives its list no
    role: the items are read as lines of their own (an indication named alone is mentioned, not claimed).
    It used to stop the analysis, and with it the recording of every page in the check."""
    profile = analyze(page)
    assert {key: claim.strength for key, claim in profile.indications.items()} == {"depression": 3}
    assert "anxiety" in profile.mentioned


def test_statement_excluding_an_indication_is_not_a_list_heading() -> None:
    page = "統合失調症の方は対象外\nうつ病に効果があります。\n"
    profile = analyze(page)
    assert set(profile.indications) == {"depression"}
    assert set(profile.excluded) == {"schizophrenia"}


def test_citation_titles_are_not_claims() -> None:
    page = "参考│\nTanaka K, Exosomes improve stroke recovery, Int J Regen. 2020;5(2):11-19\n"
    profile = analyze(page)
    assert not profile.indications
    assert list(profile.references) == ["author:tanaka:2020"]


def test_symptom_is_part_of_a_disease_claim() -> None:
    profile = analyze("NMN eases the fatigue of long COVID.\nNMN also relieves fatigue in general.\n")
    assert profile.indications["long_covid"].evidence == ("NMN eases the fatigue of long COVID.",)
    assert profile.indications["chronic_fatigue"].evidence == ("NMN also relieves fatigue in general.",)


def test_urls_do_not_make_claims() -> None:
    profile = analyze("詳しくはこちら https://example.jp/depression-cure/\n")
    assert not profile.indications


def test_markers() -> None:
    page = (
        "TMSは副作用が少ない治療です。\n"
        "当院は症例数日本一です。\n"
        "## 患者様の声\n"
        "「朝が楽になりました」(40代女性)\n"
        "エクソソーム点滴のモニター募集を行っています。\n"
    )
    profile = analyze(page)
    assert {(marker.kind, marker.group) for marker in profile.markers} == {
        ("safety", "few_side_effects"),
        ("superlative", "number_one"),
        ("testimonial", "testimonials"),
        ("testimonial", "attributed_quote"),
        ("recruitment", "monitor"),
    }
    assert [marker.level for marker in profile.safety_claims] == [1]


# ----------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("Smith AB, Jones C. Exosomes and mood. J Regen Psych. 2021;8(2):101-110.", "author:smith:2021"),
        ("Smith, A. B., & Jones, C. (2021). Exosomes and mood. J Regen Psych, 8(2), 101-110.", "author:smith:2021"),
        ("Alan B. Smith, Exosomes and mood, J Regen Psych 2021, 8, 101-110", "author:smith:2021"),
        ("Smith AB et al. Exosomes and mood. J Regen Psych 2021;8:101.", "author:smith:2021"),
        ("Müller K, Brain repair. Neuro Lett. 2018;3(1):1-9", "author:muller:2018"),
        ("doi:10.1000/ABC.2020.12 Smith AB 2020", "doi:10.1000/abc.2020.12"),
        ("https://doi.org/10.1000/abc.2020.12", "doi:10.1000/abc.2020.12"),
        ("https://pubmed.ncbi.nlm.nih.gov/12345678/", "pmid:12345678"),
        ("PMID: 12345678", "pmid:12345678"),
        ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1234567/", "pmc:PMC1234567"),
        ("山田太郎, 小さな小胞の働き, 再生医学雑誌 12(3): 45-52, 2019", "author:山田太郎:2019"),
    ],
)
def test_reference_keys(line: str, key: str) -> None:
    reference = parse_reference(line, in_references_section=False)
    assert reference is not None
    assert reference.key == key


@pytest.mark.parametrize(
    "line",
    [
        "2024.10.23|ブログ",
        "TEL 052-000-0000(10:00~19:00)",
        "脳梗塞に対する治療は、2020年までに約13論文が発表されています。",
        "Open 9:00-18:00, closed 2024-12-29 to 2025-01-03.",
    ],
)
def test_not_references(line: str) -> None:
    assert parse_reference(line, in_references_section=False) is None


def test_reformatted_reference_keeps_its_identity() -> None:
    old = analyze("## References\n- Smith AB, Jones C. Exosomes and mood. J Regen Psych. 2021;8(2):101-110.\n")
    new = analyze(
        "## References\n"
        "- Smith AB et al. (2021) Exosomes and mood. J Regen Psych 8:101-110. https://doi.org/10.1000/jrp.2021.0101\n"
    )
    (old_reference,) = old.references.values()
    (new_reference,) = new.references.values()
    assert old_reference.same_as(new_reference)
    assert new_reference.key == "doi:10.1000/jrp.2021.0101"


def test_same_reference_twice_on_a_page_is_one() -> None:
    page = (
        "Tanaka K, Exosomes for stroke, Int J Regen. 2020;5(2):11-19\n"
        "本文。\n"
        "Tanaka K. Exosomes for stroke. Int J Regen. 2020;5(2):11-19. doi:10.1000/ijr.5.11\n"
    )
    profile = analyze(page)
    assert list(profile.references) == ["doi:10.1000/ijr.5.11"]


def test_first_author_surname() -> None:
    assert first_author_surname("Nathan P Staff, Cell therapy, Proc. 2019") == "staff"
    assert first_author_surname("Staff NP, Klein CJ. Cell therapy. Proc. 2019") == "staff"
    assert first_author_surname("N. P. Staff et al., Cell therapy, 2019") == "staff"
    assert first_author_surname("Mesenchymal stem cell therapy for ischemic stroke, Front Neurol, 2022") is None


# ----------------------------------------------------------------------------- segmentation and JSON


def test_sentence_splitting() -> None:
    assert split_sentences("改善します。「よくなった。」という声も。Dr. Kato says so. It works! Really?") == [
        "改善します。",
        "「よくなった。」という声も。",
        "Dr. Kato says so.",
        "It works!",
        "Really?",
    ]
    assert split_sentences("TMS improved scores by 3.5 points. E.g. in 2021 it did.") == [
        "TMS improved scores by 3.5 points.",
        "E.g. in 2021 it did.",
    ]


def test_json_round_trip() -> None:
    profile = analyze(JA_PAGE + EN_PAGE + "TMSは副作用が少ない治療です。\n")
    data = json.loads(json.dumps(profile.to_dict(), ensure_ascii=False))
    assert ClaimProfile.from_dict(data) == profile
    assert data["analyser_version"] == ANALYSER_VERSION
    assert data["language"] == "mixed"
    assert profile.indication_strengths() == {key: claim.strength for key, claim in profile.indications.items()}


def test_analysis_is_deterministic_and_idempotent_under_nfkc() -> None:
    assert analyze(JA_PAGE).to_dict() == analyze(JA_PAGE).to_dict()
    wide = JA_PAGE.replace("TMS", "ＴＭＳ").replace("(", "(").replace(")", ")")
    assert analyze(wide).indications == analyze(JA_PAGE).indications
