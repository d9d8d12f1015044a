"""The compact store of every sentence's assessment (``watcher.claims.site_cache``), and the fast paths of the
analyser that must give what the plain ones give."""

from __future__ import annotations

import csv
import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from watcher.claims import analyze, strength
from watcher.claims import references as refs
from watcher.claims.site_cache import WORD, CompactStore
from watcher.claims.vocabulary import load_vocabulary
from watcher.extract import extract_document
from watcher.extract.normalize import normalise

EVAL_DIR = Path(__file__).parent / "claims_eval"


def eval_sentences() -> list[str]:
    found: list[str] = []
    for name in ("sentences_en.tsv", "sentences_ja.tsv", "probe_sentences.tsv"):
        with (EVAL_DIR / name).open(encoding="utf-8", newline="") as handle:
            found += [row["sentence"] for row in csv.DictReader(handle, delimiter="\t") if row.get("sentence")]
    for entry in load_vocabulary().entries:
        found += [*entry.examples.positive, *entry.examples.negative]
    return found


def eval_pages() -> list[str]:
    pairs = yaml.safe_load((EVAL_DIR / "pairs.yaml").read_text(encoding="utf-8"))
    return [pair[side] for pair in pairs for side in ("old", "new")]


SENTENCES = eval_sentences()


@pytest.mark.parametrize("implicit_level", [None, 0, 2, 3])
def test_a_stored_assessment_reads_back_equal(implicit_level: int | None) -> None:
    """Every labelled sentence and vocabulary example: the record decodes to the assessment it was made of."""
    assert len(SENTENCES) > 1000
    for sentence in SENTENCES:
        norm = normalise(sentence)
        assessment = strength._assess_anew(norm, implicit_level)
        record = strength._encode(assessment)
        assert record is not None
        assert strength._decode(norm, record) == assessment, sentence


def test_pages_analysed_from_the_store_equal_pages_analysed_anew() -> None:
    """The eval pages analysed with every cache empty, then again with only the LRU emptied (so every
    sentence comes from the compact store): the same profiles."""
    pages = eval_pages()
    strength.clear_cache()
    fresh = [analyze(page).to_dict() for page in pages]
    assert strength.SITE_ASSESSMENTS.records > 0
    strength._assess.cache_clear()
    stored = strength.SITE_ASSESSMENTS.records
    assert [analyze(page).to_dict() for page in pages] == fresh
    assert strength.SITE_ASSESSMENTS.records == stored  # nothing assessed again
    strength.clear_cache()
    assert strength.SITE_ASSESSMENTS.records == 0


def test_a_sentence_too_long_for_a_record_is_assessed_every_time() -> None:
    sentence = "TMS治療はうつ病の改善が期待されています。" + "あ" * WORD
    strength.clear_cache()
    assert strength._encode(strength._assess_anew(sentence, None)) is None
    assert strength.assess(sentence).level == 2
    assert strength.SITE_ASSESSMENTS.records == 0


def test_the_store_finds_what_it_holds_and_grows() -> None:
    rng = random.Random(7)
    store = CompactStore(max_records=100_000, max_words=1 << 20)
    records = {rng.getrandbits(64) - (1 << 63): [rng.randrange(WORD + 1) for _ in range(rng.randrange(1, 30))]}
    records[0] = [1, 2, 3]  # 0 marks an empty slot: stored under 1's slot chain, found again
    while len(records) < 20_000:
        records[rng.getrandbits(64) - (1 << 63)] = [rng.randrange(WORD + 1) for _ in range(rng.randrange(1, 30))]
    for key, record in records.items():
        store.put(key, record)
    assert store.records == len(records)
    for key, record in records.items():
        assert list(store.get(key) or []) == record
    assert store.get(12345) is None or 12345 in records
    assert store.nbytes < 20_000 * 100


def test_the_store_starts_again_at_its_bounds() -> None:
    store = CompactStore(max_records=3, max_words=1000)
    for key in range(1, 4):
        store.put(key, [key])
    store.put(4, [4])  # a fourth record: emptied first
    assert store.records == 1
    assert store.get(1) is None
    assert list(store.get(4) or []) == [4]
    words = CompactStore(max_records=100, max_words=10)
    words.put(1, [1, 2, 3, 4])
    words.put(2, [1, 2, 3, 4])
    words.put(3, [5])  # 10 words would be reached: emptied first
    assert words.get(1) is None
    assert list(words.get(3) or []) == [5]


PLAIN_IDENTIFIER = re.compile(r"10\.\d|pmid|ncbi|pmc\d", re.IGNORECASE)


@pytest.mark.parametrize(
    "text",
    [
        "PMID: 12345678",
        "pmİd 1234",
        "ncbı",
        "NcBi",
        "pmc12345",
        "PMC",
        "doi:10.1186/s12974",
        "10.x",
        "Pm1d",
        "no identifier here, 2021; 18(3): 45-52",
        "当院では59名の方に実施してきました。",
    ],
)
def test_identifier_pattern_matches_the_case_insensitive_one(text: str) -> None:
    assert (refs._ANY_IDENTIFIER.search(text) is None) == (PLAIN_IDENTIFIER.search(text) is None)


def test_year_and_identifier_shortcuts_agree_on_every_eval_line() -> None:
    lines = [line for page in eval_pages() for line in page.splitlines()] + SENTENCES
    lines += ["Tanaka H, et al. J Neuro. 2019;18:100.", "1950", "x2049y", "2050", "19 20", "(c) 2020-2021"]
    for line in lines:
        plain = refs._YEAR.search(line)
        fast = refs._year(line)
        assert (plain and plain.group(1)) == (fast and fast.group(1)), line
        assert (refs._ANY_IDENTIFIER.search(line) is None) == (PLAIN_IDENTIFIER.search(line) is None), line


@pytest.mark.parametrize(
    "body",
    [
        "<html><body><h1>ｴｸｿｿｰﾑ点滴とＴＭＳ</h1><p>ＴＭＳはうつ病を改善します。Results “vary”.</p></body></html>",
        "<html><body><p>TMS can help with OCD. Ask us—today.</p><p>㈱クリニック ㍻</p></body></html>",
        "<html><body><p>Ｆｕｌｌ ｗｉｄｔｈ ｔｅｘｔ　ａｎｄ　ｓｐａｃｅｓ</p></body></html>",
        "プレーンテキスト:幹細胞治療は脳卒中後遺症に有効です。\nPlain text (ｶﾀｶﾅ) line.",
        "12345 678",
    ],
)
def test_the_extractors_language_is_the_profiles(body: str) -> None:
    """``analyse_new_version`` hands the analyser the language the extractor detected on the same text:
    the profile is the one the analyser's own detection gives."""
    for page in [body, *eval_pages()[:20]]:
        extracted = extract_document(page.encode("utf-8"), content_type=None)
        assert analyze(extracted.text, extracted.language).to_dict() == analyze(extracted.text).to_dict(), page


def test_threads_assessing_at_once_get_what_one_thread_gets() -> None:
    """Four threads over the eval sentences with the store emptied (so they fill it and its table of values
    together), then again from the store alone: every assessment as a fresh one."""
    sentences = [normalise(sentence) for sentence in SENTENCES]
    expected = {sentence: strength._assess_anew(sentence, None) for sentence in sentences}
    strength.clear_cache()

    def assess_all(order: int) -> bool:
        ordered = sentences[order::4] + sentences[:order:4] if order else sentences
        return all(strength.assess(sentence, normalised=True) == expected[sentence] for sentence in ordered)

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(assess_all, range(4)))
    strength._assess.cache_clear()
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(assess_all, range(4)))
