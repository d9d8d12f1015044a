"""sentence_strength: the 0-4 ladder of DESIGN.md §4, its traps, and language detection."""

from __future__ import annotations

import time

import pytest

from watcher.claims import detect_language, sentence_certainty, sentence_strength
from watcher.claims.strength import assess

LADDER_JA = [
    # 0: nothing claimed, negated, excluded, a question, a condition, a disclaimer
    (0, "当院は駅から徒歩5分です。"),
    (0, "うつ病には脳の炎症が関与しています。"),
    (0, "エクソソームの効果は証明されていません。"),
    (0, "NMNの有効性は、ヒトではまだ確認されていません。"),
    (0, "統合失調症の方は治療の対象外です。"),
    (0, "エクソソームはうつ病に効果があるのでしょうか?"),
    (0, "※効果には個人差があります。"),
    (0, "効果が認められない場合は、治療を中止します。"),
    (1, "うつ病への効果はまだ研究段階です。"),  # research-stage efficacy: the floor of the ladder
    # 1: possibility
    (1, "エクソソームはうつ病の症状を和らげる可能性があります。"),
    (1, "NMN点滴で疲れが軽くなるかもしれません。"),
    (1, "症状が改善する可能性があると考えられます。"),
    # 2: expectation, report, attribution
    (2, "幹細胞上清液は認知症への効果が期待されています。"),
    (1, "症状を改善する可能性が示唆されています。"),  # possibility wins over the report around it
    (2, "TMSはパニック障害に有効だと言われています。"),
    (2, "90%の患者で完治したという報告もあります。"),
    # 3: direct assertion
    (3, "TMS治療はうつ病に有効です。"),
    (3, "エクソソームは脳細胞を修復する効果があることがわかってきており、臨床応用されています。"),
    (3, "効果には個人差がありますが、多くの方で睡眠の質が改善しています。"),
    # 4: proof, statistics, guarantee
    (4, "臨床試験でうつ病への効果が証明されています。"),
    (4, "当院の患者さんの8割が寛解に至っています。"),
    (4, "治療後、抑うつ症状の有意な改善を認めました。"),
    (4, "不眠症は必ず治ります。"),
]

LADDER_EN = [
    (0, "Our clinic opens at nine."),
    (0, "Inflammation is involved in depression and schizophrenia."),
    (0, "Exosome therapy has not been proven to help autism."),
    (0, "The benefit of NMN for insomnia has not been demonstrated in people."),
    (0, "We do not treat schizophrenia."),
    (0, "Does exosome therapy help autism?"),
    (0, "Is TMS proven to cure depression"),
    (0, "Q. Will NMN cure my fatigue"),
    (0, "Individual results may vary."),
    (0, "If the infusion is effective, we repeat it every month."),
    (0, "There is no evidence that stem cells cure diabetes."),
    (0, "Coffee drinking is associated with lower rates of depression."),
    (1, "Exosomes may relieve anxiety."),
    (1, "NMN could help with chronic fatigue."),
    (1, "If you have migraines, TMS might reduce their frequency."),
    (1, "It is not proven, but it may help."),
    (2, "Research suggests that TMS relieves OCD."),
    (1, "Findings suggest a possible role for exosomes in treating stroke."),  # possibility wins
    (2, "Exosome therapy is a promising option for arthritis."),
    (2, "A study reported that 90% of patients were cured."),
    (3, "TMS improves symptoms of depression."),
    (3, "Our infusions relieve migraine."),
    (3, "Results vary, but most patients feel better after two sessions."),
    (4, "TMS is clinically proven to relieve depression."),
    (4, "85% of our patients improved after three sessions."),
    (4, "Stem cell therapy cures arthritis."),
    (4, "Pain scores fell significantly after treatment."),
]


@pytest.mark.parametrize(("level", "sentence"), LADDER_JA)
def test_japanese_ladder(level: int, sentence: str) -> None:
    assert sentence_strength(sentence, "ja") == level


@pytest.mark.parametrize(("level", "sentence"), LADDER_EN)
def test_english_ladder(level: int, sentence: str) -> None:
    assert sentence_strength(sentence, "en") == level


@pytest.mark.parametrize(
    ("sentence", "level"),
    [
        # negation of a proof word, in both word orders
        ("効果は実証されていません。", 0),
        ("Not proven to work.", 0),
        ("No treatment is guaranteed to cure autism.", 0),
        # double negation is a hedge, not a denial
        ("エクソソームがALSの進行を遅らせる可能性も、ないとは言えません。", 1),
        # proof words inside reported speech are capped at 2
        ("「必ず治る」という報告もあります。", 2),
        ("According to one clinic, the therapy cures autism.", 2),
        # the clause-final expression decides in Japanese
        ("示唆されている効果が得られる可能性があります。", 1),
        # contrast: the strongest clause wins
        ("効果は証明されていませんが、改善が期待されています。", 2),
        ("Evidence is limited; however, NMN may improve sleep.", 1),
        # a negation does not reach past a comma
        ("入院の必要はなく、通院で改善します。", 3),
        # warnings about others' claims and the page describing itself are not claims
        ("「エクソソームでがんが治る」とうたう広告には注意が必要です。", 0),
        ("Be wary of clinics that claim stem cells cure autism.", 0),
        ("今回は、TMSがうつ病に効果を発揮するかについて解説します。", 0),
        # several English sentences in one text: a hedge or a negation in one does not reach the next
        ("The pilot could not enrol enough people. Our infusion relieves chronic fatigue.", 3),
        ("We saw patients recover quickly. Larger trials may follow next spring.", 3),
        ("Dr. Okada says the infusion may ease migraine.", 1),
        # the writer's own report is an assertion; someone else's report is attributed
        ("We report that the course relieves tinnitus in most of our patients.", 3),
        ("Others have reported that the course relieves tinnitus.", 2),
        # a mechanism: causal, never a therapeutic claim on its own
        ("A single enzyme is responsible for the loss of colour.", 3),
    ],
)
def test_traps(sentence: str, level: int) -> None:
    assert sentence_strength(sentence) == level


def test_abbreviations_and_case() -> None:
    assert sentence_strength("In May the clinic moved.") == 0  # the month, not the modal
    assert assess("TMS improves OCD.").indications[0].entry_id == "ocd"
    assert not assess("The ocd folder is empty.").indications  # abbreviations are case-sensitive
    assert not assess("The MSc course improves skills.").indications  # and word-bounded


def test_width_and_kana_are_normalised() -> None:
    assert sentence_strength("ＴＭＳ治療はうつ病に有効です。") == 3
    assert sentence_strength("TMS治療はうつ病に有効です。") == 3
    assert assess("ＴＭＳ治療はうつ病に有効です。").treatments[0].entry_id == "tms"


def test_exclusion_is_recorded() -> None:
    assessment = assess("当院では統合失調症の治療は行っておりません。")
    assert assessment.level == 0
    assert assessment.excluded
    assert [mention.entry_id for mention in assessment.indications] == ["schizophrenia"]


def test_caveats_are_recorded() -> None:
    assert assess("※効果には個人差があります。").caveats == ("individual_variation",)
    assert assess("Exosome therapy has not been proven to help autism.").caveats == ("not_proven",)
    assert assess("効果は証明されていません。").caveats == ("not_proven",)
    assert assess("More research is needed.").caveats == ("further_research",)


def test_markers_are_recorded() -> None:
    kinds = {(mention.kind, mention.group) for mention in assess("副作用はありません。日本一の症例数です。").markers}
    assert kinds == {("safety", "no_side_effects"), ("superlative", "number_one")}
    # a superlative is also a claim: "最も効果的" keeps its effect
    assessment = assess("当院の治療は最も効果的です。")
    assert assessment.level == 3
    assert assessment.markers[0].kind == "superlative"
    # a question or a negation is not a marker
    assert not assess("副作用はありますか?").markers
    assert not assess("副作用がないわけではありません。").markers


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("TMS治療はうつ病に有効です。", "ja"),
        ("TMS improves depression.", "en"),
        ("TMS治療はうつ病に有効です。\nTMS improves depression in most of our patients.", "mixed"),
        ("", "en"),
        ("2024.10.23", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_throughput_smoke() -> None:
    """Far below the 20,000 sentences/s target, so the test is not flaky; the benchmark measures it."""
    sentences = [sentence for _, sentence in LADDER_JA + LADDER_EN] * 20
    started = time.perf_counter()
    for sentence in sentences:
        sentence_strength(sentence)
    assert len(sentences) / (time.perf_counter() - started) > 2_000


# sentence_certainty: the level first, then fewer possibility words. Pairs (weaker, stronger) on one level.
SAME_LEVEL_CERTAINTY = [
    # two possibility words are softer than one, both at 1
    ("Ozone therapy could possibly ease back pain.", "Ozone therapy could ease back pain."),
    ("NMN might perhaps improve fatigue in older adults.", "NMN might improve fatigue in older adults."),
    ("エクソソームで不眠が改善するかもしれない可能性があります。", "エクソソームで不眠が改善する可能性があります。"),
    # "can" with a named treatment and indication is an assertion (3), but dropping it still firms it up
    ("Our TMS can relieve depression.", "Our TMS relieves depression."),
    # at 4 as well: a statistic with "can" before it
    ("TMS can significantly reduce migraine attacks.", "TMS significantly reduces migraine attacks."),
]


@pytest.mark.parametrize(("weaker", "stronger"), SAME_LEVEL_CERTAINTY)
def test_certainty_breaks_a_tie_between_hedged_and_less_hedged(weaker: str, stronger: str) -> None:
    assert sentence_strength(weaker) == sentence_strength(stronger) > 0
    assert sentence_certainty(weaker) < sentence_certainty(stronger)
    assert sentence_certainty(weaker)[0] == sentence_strength(weaker)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # one possibility word each: equally certain, whichever the word
        ("Ozone therapy may ease back pain.", "Ozone therapy could ease back pain."),
        ("NMN点滴で疲れが軽くなるかもしれません。", "NMN点滴で疲れが軽くなる可能性があります。"),
        # a negated or conditional "may" softens no claim; nor does a hedge in a clause that claims nothing
        ("PRP improves knee pain.", "PRP improves knee pain, and it is not true that it may hurt."),
        ("Ozone therapy improves back pain. Costs may vary.", "Ozone therapy improves back pain."),
        # questions and texts without a claim are (0, 0), hedged or not
        ("Could exosomes help with autism?", "Our clinic is near the station."),
        ("It may rain on Tuesday.", "Parking is free."),
    ],
)
def test_certainty_is_equal_when_the_claims_are_equally_hedged(one: str, other: str) -> None:
    assert sentence_certainty(one) == sentence_certainty(other)


def test_certainty_never_reorders_levels() -> None:
    # a level-3 claim hedged once is still above any level-1 claim, however unhedged the rest looks
    assert sentence_certainty("Our TMS can relieve depression.") > sentence_certainty("TMS might help with OCD.")
    assert sentence_certainty("TMS might help with OCD.") > sentence_certainty("TMS is offered on weekdays.")
    assert sentence_certainty("Could exosomes help with autism?") == (0, 0)
    # the strongest clause decides: a hedged second sentence does not soften the first
    assert sentence_certainty("NMN improves fatigue. It may also help sleep.") == (3, 0)
