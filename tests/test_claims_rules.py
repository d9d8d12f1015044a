"""The rules added for real clinic wording (issue 9): cue families, the floor of the ladder, scope of
lists and tables, context across sentences, per-claim alignment, references. Every case was written for
this project; each rule has positive and negative cases in both languages."""

from __future__ import annotations

import pytest

from watcher.claims import analyze, compare_texts, sentence_strength
from watcher.claims.references import parse_reference
from watcher.claims.segment import parse_blocks
from watcher.claims.strength import assess

LADDER = [
    # approval, clearance, insurance cover, a professional body's recommendation: 4, even when reported
    (4, "この点滴は慢性疲労症候群に対して適応が認められています。"),
    (4, "米国では数年前にFDAの認可を受けたと報告されています。"),
    (4, "中等症のうつ病には保険適用となります。"),
    (4, "Deep TMS is FDA-cleared for obsessive-compulsive disorder."),
    (4, "Last year the FDA cleared the coil for smoking cessation."),
    (4, "The national psychiatric association recommended TMS for depression."),
    (0, "この製剤はうつ病に対して承認されていません。"),
    (0, "Exosome products are not FDA-approved for any disease."),
    (0, "再生医療等提供計画を厚生労働省に届出済みです。"),
    # outcome statistics: a rate with a number is 4, also when reported; without a number nothing
    (4, "当院の寛解率は約40%です。"),
    (4, "急性期の奏効率は55〜65%と報告されています。"),
    (4, "Remission rate | 38%"),
    (4, "Roughly 70% of our patients with migraine improved."),
    (0, "反応率には個人差があります。"),
    (0, "Response rates differ between clinics."),
    # service offers: 3 when they name a condition, nothing beside a test
    (3, "当院では、パニック障害の方にもTMS治療を行っております。"),
    (3, "不眠でお悩みの方にNMN点滴をご提供しています。"),
    (3, "We now also offer ketamine to patients with PTSD."),
    (3, "TMS is now offered to people with tinnitus as well."),
    (0, "発達障害の検査を行っています。"),
    (0, "We offer screening for dementia."),
    (0, "We offer free parking for all visitors."),
    # effect verbs and outcome praise: 3
    (3, "高濃度ビタミンC点滴でがん細胞を死滅させます。"),
    (3, "免疫細胞ががん細胞を攻撃します。"),
    (3, "Our infusion kills cancer cells."),
    (3, "双極性障害の方にも治療を行い、良好な結果が得られています。"),
    (3, "We have treated many people with panic disorder, with excellent results."),
    (0, "関節リウマチは免疫が自分の関節を攻撃する病気です。"),
    (0, "Migraine attacks are more common in women."),
    # certainty phrased with a modal is not a hedge: 4
    (4, "We can say with certainty that NAD+ works for fatigue."),
    (4, "この点滴が不眠に効くことは、自信を持って断言できます。"),
    # "can": an ability of a named treatment is an assertion; a possible cause is a possibility
    (3, "TMS can help people with OCD."),
    (1, "Drinking in an unfamiliar bar can lead to risky behaviour."),
    # possibility wins over the report or expectation around it: 1
    (1, "最近の研究では、NMNが不眠に有効である可能性が示唆されています。"),
    (1, "エクソソームには認知症を予防する可能性が期待されています。"),
    (1, "Early studies suggest that NAD+ might ease alcohol withdrawal."),
    (2, "Early studies suggest that NAD+ eases alcohol withdrawal."),
    # the floor of the ladder: a research-stage qualifier caps an efficacy claim at 1, and alone is 0
    (1, "研究段階ではありますが、TMSは耳鳴りにも効果が期待されています。"),
    (1, "片頭痛 | 有効な可能性あり(研究段階)"),
    (1, "TMS for tinnitus is still experimental but has shown promise."),
    (0, "自閉症へのエクソソームの応用は、まだ研究段階です。"),
    (0, "Stem cells for stroke are still being studied."),
    (4, "TMS is not experimental; it is proven to relieve depression."),
    # anecdotes and animal studies are reported results: 2
    (2, "併用で腫瘍が小さくなった例もあります。"),
    (2, "In a mouse model of autism, the vesicles improved social behaviour."),
    # a definition is not a question; a question clause claims nothing
    (3, "うつ病に効く磁気刺激治療とは?"),
    (0, "NMNは本当に不眠に効くの?効果を解説します。"),
    # a condition in brackets qualifies only the bracket
    (4, "症状の改善率は40〜50%(重症の場合)。"),
    # a negation inside quotes stays inside them
    (4, "保険診療の対象は「薬で効果がみられないうつ病」に限られています。"),
]


@pytest.mark.parametrize(("level", "sentence"), LADDER)
def test_ladder(level: int, sentence: str) -> None:
    assert sentence_strength(sentence) == level, assess(sentence).clauses


@pytest.mark.parametrize(
    ("sentence", "cue"),
    [
        ("TMS is FDA-cleared for OCD.", "FDA-cleared"),
        ("Exosomes may improve sleep.", "improve, capped by may"),
        ("研究段階ではありますが、うつ病にも効果が期待されています。", "効果, capped by 研究段階"),
        ("当院の寛解率は約40%です。", "寛解率"),
    ],
)
def test_the_deciding_cue_is_named(sentence: str, cue: str) -> None:
    assert cue in [clause.cue for clause in assess(sentence).clauses]


@pytest.mark.parametrize(
    ("sentence", "indication", "claimed"),
    [
        ("夜なかなか寝付けない方にもおすすめです。", "insomnia", True),
        ("ボケ防止に役立つ点滴です。", "dementia", True),
        ("The infusion eases opioid dependency.", "addiction", True),
        ("Deep TMS is FDA-cleared for smoking cessation.", "addiction", True),
        ("Our therapy helps children with developmental delays.", "developmental_disorder", True),
        ("TMS reduces your dependence on medication.", "addiction", False),
        ("写真がピンボケしないよう撮影します。", "dementia", False),
    ],
)
def test_colloquial_names(sentence: str, indication: str, claimed: bool) -> None:
    assert (indication in analyze(sentence).indications) is claimed


def strengths(text: str) -> dict[str, int]:
    return {key: claim.strength for key, claim in analyze(text).indications.items()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a statistic naming no disease refers back to the sentence before it
        (
            "# NMN点滴\n点滴で認知症の改善が期待されています。\n実際に、受けた方の80%で改善がみられました。",
            {"dementia": 4},
        ),
        ("# NAD+\nNAD+ is expected to ease addiction.\nIn fact, 75% of our patients improved.", {"addiction": 4}),
        # ... or to the heading above it (a statistics table)
        ("# TMS\n## Our results in depression\nResponse rate | 62%\nRemission rate | 31%", {"depression": 4}),
        ("# TMS\n## 不眠に対する治療成績\n反応率 | 60%", {"insomnia": 4}),
        # a measurement after a claim is not about the claimed indication
        ("# NAD+\nNAD+ is expected to ease PTSD.\nNAD+ levels fall by about 40% with age.", {"ptsd": 2}),
        (
            "# NMN\nNMN点滴にはうつ病の改善が期待されています。\n血中のNAD+の量は60代で半分に減ります。",
            {"depression": 2},
        ),
        # a research-stage row with an efficacy cue is the floor; without one it is nothing
        ("## 各疾患への適応\nうつ病 | 有効な可能性あり(研究段階)\nがん | 不明(研究段階)", {"depression": 1}),
        ("## Indications\nPTSD | Possibly effective (research stage)\nAutism | Unknown (research stage)", {"ptsd": 1}),
    ],
)
def test_context_and_scope(text: str, expected: dict[str, int]) -> None:
    assert strengths(text) == expected


def kinds(old: str, new: str) -> list[tuple[str, str | None]]:
    return [(finding.kind, finding.indication or finding.reference_key) for finding in compare_texts(old, new)]


def test_a_rise_under_an_unchanged_page_maximum_is_reported() -> None:
    old = "# 当院の治療\nTMS治療はADHDに有効です。\nエクソソーム点滴はADHDの症状をやわらげる可能性があります。\n"
    new = "# 当院の治療\nTMS治療はADHDに有効です。\nエクソソーム点滴はADHDの症状をやわらげます。\n"
    findings = compare_texts(old, new)
    assert [(f.kind, f.indication) for f in findings] == [("claim_strengthened", "adhd")]
    assert (findings[0].strength_before, findings[0].strength_after) == (1, 3)
    assert findings[0].treatments == ("exosome",)
    assert findings[0].cue_before == "やわらげ, capped by 可能性があ" and findings[0].cue_after == "やわらげ"
    english_old = "# Our services\nTMS improves depression.\nKetamine may ease depression.\n"
    english_new = "# Our services\nTMS improves depression.\nKetamine eases depression.\n"
    assert kinds(english_old, english_new) == [("claim_strengthened", "depression")]


def test_research_stage_to_effective_is_a_strengthening_not_a_new_indication() -> None:
    old = "## 各疾患への適応\n不眠症 | 有効な可能性あり(研究段階)\n"
    new = "## 各疾患への適応\n不眠症 | 有効\n"
    assert ("claim_strengthened", "insomnia") in kinds(old, new)
    assert ("new_indication", "insomnia") not in kinds(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a mistyped cue fixed: no change of claim
        ("# TMS\nTMS is expectd to improve depression.\n", "# TMS\nTMS is expected to improve depression.\n"),
        # plain text re-wrapped mid-sentence
        ("TMS is expected to improve migraine.\n", "TMS is expected to\nimprove migraine.\n"),
        # a Japanese "et al." (ほか) on a reference
        (
            "## 参考文献\n- 山本一郎, 川口二郎. 点滴療法の経験. 臨床雑誌. 2020;8(2):10-15.\n",
            "## 参考文献\n- 山本一郎ほか. 点滴療法の経験. 臨床雑誌. 2020;8(2):10-15.\n",
        ),
        # a source label changed
        ("参照元: 北の医科大学による症例報告\n", "出典: 北の医科大学による症例報告\n"),
    ],
)
def test_no_finding(old: str, new: str) -> None:
    assert kinds(old, new) == []


def test_a_real_one_word_change_is_still_reported() -> None:
    assert kinds("# TMS\nTMS improves migraine.\n", "# TMS\nTMS cures migraine.\n") == [
        ("claim_strengthened", "migraine")
    ]


@pytest.mark.parametrize(
    ("line", "in_section", "found"),
    [
        ("参照元: 北の医科大学による脊髄損傷の症例報告", False, True),
        ("Source: a regional university hospital audit", False, True),
        ("日本精神神経学会 治療ガイドライン うつ病編", True, True),
        ("NICE guideline on depression in adults", True, True),
        ("https://pubmed.ncbi.nlm.nih.gov/30123456/", False, True),
        ("日本精神神経学会 治療ガイドライン うつ病編", False, False),
        ("参考価格: 30,000円", False, False),
        ("お気軽にご相談ください", True, False),
    ],
)
def test_source_lines_and_documents_are_references(line: str, in_section: bool, found: bool) -> None:
    assert (parse_reference(line, in_references_section=in_section) is not None) is found


def test_removing_a_source_line_is_reference_removed() -> None:
    old = "# 幹細胞治療\n脊髄損傷の改善が期待されています。\n参照元: 北の医科大学による症例報告\n"
    new = "# 幹細胞治療\n脊髄損傷の改善が期待されています。\n"
    assert [kind for kind, _ in kinds(old, new)] == ["reference_removed"]


@pytest.mark.parametrize(
    ("text", "blocks"),
    [
        ("Stem cells are expected to\nimprove stroke.", ["Stem cells are expected to improve stroke."]),
        ("Pricing\nSessions are weekly.", ["Pricing", "Sessions are weekly."]),
        ("First sentence.\nsecond line", ["First sentence.", "second line"]),
    ],
)
def test_wrapped_lines_are_joined(text: str, blocks: list[str]) -> None:
    assert [block.text for block in parse_blocks(text)] == blocks


# ----------------------------------------------------------------------------- analyser 1.2.0 classes


@pytest.mark.parametrize(
    ("level", "sentence"),
    [
        # effect verbs: halting, deactivating, responding, gains, success, meaningful outcomes
        (4, "The infusions halted decline in 70% of our patients with Parkinson's disease."),
        (3, "The gas deactivates bacteria in the wound on contact."),
        (4, "In our audit, 52% of patients with migraine responded to the injections."),
        (1, "Small pilot studies report possible gains in sleep quality."),
        (3, "Our clinic has had success in many patients with fibromyalgia."),
        (3, "Ketamine gives a clinically meaningful option for treatment-resistant depression."),
        (4, "Deep TMS is a clinically validated treatment for smoking cessation."),
        # "no longer experimental" is not a research-stage qualifier
        (3, "PRP is a helpful option for knee arthritis that is no longer experimental."),
        (1, "PRP for knee arthritis is still experimental, but it may relieve pain."),
        # a fronted concessive clause holds its own limitation
        (1, "While larger trials are needed, small studies suggest NMN may ease insomnia."),
        (0, "More trials are needed before NMN can be recommended for insomnia."),
        # offers: prescribing
        (3, "We regularly prescribe NAD+ infusions for chronic Lyme disease."),
        (0, "Doctors sometimes ask whether to prescribe NAD+ for Lyme disease."),
        # Japanese: treatment results, risk reduction, recognised efficacy, hearsay, disputed or scarce evidence
        (2, "脳梗塞の方への治療成績は良好だったと報告されています。"),
        (1, "運動を続けると認知症になるリスクが下がる可能性があります。"),
        (4, "この点滴によるリウマチ治療の有効性が認められています。"),
        (0, "この点滴によるリウマチ治療の有効性は認められていません。"),
        (2, "海外では不眠症への有効性も確かめられているようです。"),
        (0, "片頭痛への効果については、専門家の評価が分かれています。"),
        (0, "不眠症への効果を示す確立したデータは、まだ少ないのが現状です。"),
    ],
)
def test_ladder_1_2(level: int, sentence: str) -> None:
    assert sentence_strength(sentence) == level


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a list under an intro that names a use, not a recognised indications heading
        (
            "# 培養上清液\n培養上清液が使われている治療の一部をご紹介します。\n- 肌の若返り\n- 脳梗塞の後遺症\n",
            {"stroke": 3},
        ),
        # an intro that only presents the clinic's menu is no claim
        ("# メニュー\n当院の点滴メニューをご紹介します。\n- 脳梗塞の検査\n", {}),
        # claim-like headings: treatment x indication x effect
        ("# NMN点滴\n## 不眠症に対するNMN点滴の効果\n点滴は30分です。\n", {"insomnia": 3}),
        ("# Ozone\n## Ozone Therapy Benefits for Fibromyalgia\nSessions take an hour.\n", {"fibromyalgia": 3}),
        ("# NMN点滴\n## 不眠症に対するNMN点滴の期待される効果\n点滴は30分です。\n", {"insomnia": 2}),
        # headings that discuss the mechanism, the evidence or ask a question do not claim
        ("# NMN点滴\n## 不眠症に対するNMN点滴の効果のメカニズム\n点滴は30分です。\n", {}),
        ("# Ozone\n## Evidence on Ozone Therapy Benefits for Fibromyalgia\nSessions take an hour.\n", {}),
        ("# NMN点滴\n## 不眠症にNMN点滴は効果がある?\n点滴は30分です。\n", {}),
        # naming a disease and a treatment without an effect is a topic, not a claim
        ("# TMS\n## うつ病とTMS治療\n治療は約20分です。\n", {}),
    ],
)
def test_list_intros_and_claim_headings(text: str, expected: dict[str, int]) -> None:
    assert strengths(text) == expected
