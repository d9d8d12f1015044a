"""The line-aligned diff: properties on random edits (hypothesis) and the cases that went wrong
when lines were cut out of a character diff."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from diff_match_patch import diff_match_patch
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.changes import (
    DELETE,
    EQUAL,
    INSERT,
    LinePair,
    _kept_edges,
    _kept_share,
    _pairing,
    _RepeatingEngine,
    _Tokens,
    char_ops,
    diff_texts,
    render_unified,
    text_lines,
)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True)

# Short lines from a small alphabet: many repeated lines and shared pieces, the hard case for alignment.
LINE = st.text(alphabet="ab うつ病#-\t.", max_size=8)
UNIQUE_WORDS = st.text(alphabet="abcdefghij症状改善", min_size=1, max_size=6)


@dataclass(frozen=True)
class Edit:
    kind: str  # insert | delete | modify
    at: int
    text: str


EDITS = st.lists(st.builds(Edit, st.sampled_from(["insert", "delete", "modify"]), st.integers(0, 40), LINE), max_size=8)


def apply(lines: list[str], edits: list[Edit]) -> list[str]:
    out = list(lines)
    for edit in edits:
        at = edit.at % (len(out) + 1)
        if edit.kind == "insert":
            out.insert(at, edit.text)
        elif out and at < len(out):
            if edit.kind == "delete":
                del out[at]
            else:
                out[at] = out[at] + edit.text
    return out


def check_rows(old: str, new: str, rows: tuple[LinePair, ...]) -> None:
    old_lines, new_lines = text_lines(old), text_lines(new)
    olds = [row for row in rows if row.old_number is not None]
    news = [row for row in rows if row.new_number is not None]
    # Each version's lines appear once each, in their order, with their real numbers ...
    assert [row.old_number for row in olds] == list(range(1, len(old_lines) + 1))
    assert [row.new_number for row in news] == list(range(1, len(new_lines) + 1))
    # ... and the text of each side is that line: reassembled, each side is its version.
    assert [row.old_text for row in olds] == old_lines
    assert [row.new_text for row in news] == new_lines
    assert "\n".join(row.old_text for row in olds) == old
    assert "\n".join(row.new_text for row in news) == new
    for row in rows:
        assert row.old_number is not None or row.new_number is not None
        assert all(text for _, text in row.ops)
        if not row.changed:
            assert row.old_text == row.new_text and all(op == EQUAL for op, _ in row.ops)
        if row.old_number is None:
            assert all(op == INSERT for op, _ in row.ops)
        if row.new_number is None:
            assert all(op == DELETE for op, _ in row.ops)


def check_ops(old: str, new: str, ops: list[tuple[int, str]]) -> None:
    assert "".join(text for op, text in ops if op != INSERT) == old
    assert "".join(text for op, text in ops if op != DELETE) == new


@PROPERTY_SETTINGS
@given(st.lists(LINE, max_size=30), EDITS, st.booleans())
def test_random_edits_reassemble_both_versions(lines: list[str], edits: list[Edit], trailing: bool) -> None:
    old = "\n".join(lines) + ("\n" if trailing and lines else "")
    new = "\n".join(apply(lines, edits))
    result = diff_texts(old, new)
    check_rows(old, new, result.lines)
    check_ops(old, new, result.ops)
    assert result.changed == (old != new)
    assert result.inserted_chars == sum(len(t) for op, t in result.ops if op == INSERT)


@PROPERTY_SETTINGS
@given(st.lists(UNIQUE_WORDS, unique=True, max_size=25), st.data())
def test_untouched_lines_keep_their_real_numbers(words: list[str], data: st.DataObject) -> None:
    """Distinct lines, some deleted, some changed, new ones inserted: every line left alone is an
    unchanged row numbered as it is in each version."""
    old_lines = [f"line {word}" for word in words]
    fate = data.draw(st.lists(st.sampled_from(["keep", "delete", "change"]), min_size=len(words), max_size=len(words)))
    inserts = data.draw(st.lists(st.integers(0, len(words)), max_size=5))
    new_lines: list[str] = []
    kept: dict[int, int] = {}  # old number -> new number of the untouched lines
    for index, (line, what) in enumerate(zip(old_lines, fate, strict=True)):
        new_lines.extend(f"added {index}.{k}" for k, at in enumerate(inserts) if at == index)
        if what == "keep":
            new_lines.append(line)
            kept[index + 1] = len(new_lines)
        elif what == "change":
            new_lines.append(f"{line} (edited)")
    new_lines.extend(f"added end.{k}" for k, at in enumerate(inserts) if at == len(words))
    old, new = "\n".join(old_lines), "\n".join(new_lines)
    rows = diff_texts(old, new).lines
    check_rows(old, new, rows)
    unchanged = {row.old_number: row.new_number for row in rows if not row.changed}
    assert unchanged == kept
    # An edited line is shown as one edited pair, not as unrelated removed and added lines.
    edited = [index + 1 for index, what in enumerate(fate) if what == "change"]
    pairs = {row.old_number for row in rows if row.changed and row.old_number and row.new_number}
    assert pairs == set(edited)


def test_a_small_edit_keeps_every_following_line_in_step() -> None:
    old = "\n".join(
        [
            "# Treatments",
            "Our clinic offers infusions.",
            "## Evidence",
            "A pilot study may suggest benefit.",
            "## References",
            "- Smith 2020",
            "- Tanaka 2021",
        ]
    )
    new = "\n".join(
        [
            "# Treatments",
            "Our clinic offers infusions.",
            "A short summary paragraph, added at the top.",
            "## Evidence",
            "A controlled trial proved benefit.",
            "## References",
            "- Smith 2020",
            "- Tanaka 2021",
        ]
    )
    rows = diff_texts(old, new).lines
    by_text = {row.new_text: (row.old_number, row.new_number) for row in rows if not row.changed}
    assert by_text == {
        "# Treatments": (1, 1),
        "Our clinic offers infusions.": (2, 2),
        "## Evidence": (3, 4),
        "## References": (5, 6),
        "- Smith 2020": (6, 7),
        "- Tanaka 2021": (7, 8),
    }
    added = next(row for row in rows if row.old_number is None)
    assert added.new_number == 3 and added.new_text.startswith("A short summary")
    edited = next(row for row in rows if row.old_number == 4)
    assert edited.new_number == 5 and (DELETE, "pilot study may suggest") in edited.ops
    text = render_unified(rows, context_lines=1)
    # The new paragraph prints before the heading it precedes, not after the references heading.
    assert text.index("A short summary") < text.index("## Evidence") < text.index("## References")
    assert text.splitlines()[0] == "@@ -2,4 +2,5 @@"  # context from line 2; 4 old lines, 5 new


def test_unrelated_lines_are_not_paired_and_headings_pair_with_headings() -> None:
    old = "## Results\nPatients often ask us about the price of each session.\nend"
    new = "## Outcomes\nNine out of ten patients improved within three months.\nend"
    rows = diff_texts(old, new).lines
    removed = [row.old_number for row in rows if row.new_number is None]
    added = [row.new_number for row in rows if row.old_number is None]
    assert removed == [1, 2] and added == [1, 2]  # neither the headings nor the sentences look alike
    edited = diff_texts("## Research in Parkinson's disease\nx", "## Parkinson's disease\nx").lines[0]
    assert (edited.old_number, edited.new_number) == (1, 1) and (DELETE, " Research in") in edited.ops


def test_empty_texts_and_line_breaks() -> None:
    assert diff_texts("", "").lines == () and not diff_texts("", "").changed
    assert [(r.old_number, r.new_number) for r in diff_texts("", "a\nb").lines] == [(None, 1), (None, 2)]
    only_break = diff_texts("a", "a\n")
    assert only_break.ops == [(EQUAL, "a"), (INSERT, "\n")]
    assert [(r.old_number, r.new_number, r.changed) for r in only_break.lines] == [(1, 1, False), (None, 2, True)]
    assert render_unified(only_break.lines) == "@@ -1,1 +1,2 @@\n  a\n+"


def test_render_unified_marks_characters_inside_edited_lines_only() -> None:
    rows = diff_texts("keep\nmay help\nold line gone\nkeep", "keep\nproven to help\nkeep\nbrand new").lines
    text = render_unified(rows, context_lines=0)
    assert text.splitlines() == [
        "@@ -2,2 +2,1 @@",
        "- [-may-] help",
        "+ {+proven to+} help",
        "- old line gone",
        "@@ -4,0 +4,1 @@",
        "+ brand new",
    ]
    coloured = render_unified(rows, context_lines=0, color=True)
    assert "\x1b[31;1mold line gone\x1b[0m" in coloured and "[-" not in coloured


def test_the_deadline_gives_a_coarser_but_exact_diff() -> None:
    old = "\n".join(f"paragraph {i} says something about treatment {i % 7}" for i in range(3000))
    new = "\n".join(f"paragraph {i} says something else about treatment {i % 5}" for i in range(3000))
    result = diff_texts(old, new, timeout=0.001)
    check_rows(old, new, result.lines)
    check_ops(old, new, result.ops)


# Runs of changed lines like a template page's: sentences built from a few pieces, so that many
# lines look alike, some are equal (ties) and some are unrelated.
PIECE_LIST = [
    "幹細胞",
    "点滴は",
    "うつ病の",
    "症状を",
    "改善する",
    "可能性があります。",
    "証明されています。",
    "当院では",
    "12",
    "名",
    " ",
    "This",
    "therapy",
    "may help",
    "proven",
    "case 3-1",
    "(",
    ")",
    "-",
]
SENTENCE = st.lists(st.sampled_from(PIECE_LIST), min_size=0, max_size=14).map("".join)
RUN = st.lists(SENTENCE, min_size=1, max_size=9)


@PROPERTY_SETTINGS
@given(RUN, RUN)
def test_bounds_of_the_kept_share_hold(olds: list[str], news: list[str]) -> None:
    """What the pairing skips the token diff with: the common start and end of two lines never
    exceed what their token diff keeps, and that never exceeds their common tokens."""
    engine = diff_match_patch()
    tokens = _Tokens()
    for old in olds:
        for new in news:
            total = len(old) + len(new)
            share = _kept_share(old, new, tokens=tokens, engine=engine, deadline=None)
            low = 2 * _kept_edges(tokens, old, new, engine=engine) / total if total else 1.0
            high = 2 * tokens.common_chars(old, new) / total if total else 1.0
            assert low - 1e-12 <= share <= high + 1e-12


def test_pairing_is_the_one_all_token_diffs_give() -> None:
    """The pairing that computes token diffs only where they can change the choice gives the pairs
    the pairing with every candidate's token diff gives, on 400 runs of look-alike lines: edited
    (pieces inserted, removed, swapped, rotated), replaced, shuffled, with equal lines (ties)."""
    engine = diff_match_patch()
    pieces = PIECE_LIST
    for seed in range(400):
        rng = random.Random(seed)
        olds = [[rng.choice(pieces) for _ in range(rng.randint(0, 14))] for _ in range(rng.randint(1, 12))]
        news = [_edited(rng, line, pieces) if rng.random() < 0.8 else rng.sample(pieces, 5) for line in olds]
        if rng.random() < 0.5:
            rng.shuffle(news)
        news += rng.sample(olds, min(len(olds), rng.randint(0, 2)))
        old_lines, new_lines = ["".join(line) for line in olds], ["".join(line) for line in news]
        quick = _pairing(old_lines, new_lines, engine=engine, deadline=None)
        assert quick == _pairing(old_lines, new_lines, engine=engine, deadline=None, exhaustive=True), seed


def _edited(rng: random.Random, line: list[str], pieces: Sequence[str]) -> list[str]:
    out = list(line)
    for _ in range(rng.randint(1, 3)):
        at = rng.randint(0, len(out))
        if rng.random() < 0.4 and out:
            del out[min(at, len(out) - 1)]
        elif rng.random() < 0.3 and len(out) > 1:
            i, j = rng.randrange(len(out)), rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
        else:
            out.insert(at, rng.choice(pieces))
    return out


def test_a_partner_that_looks_best_at_its_bound_is_checked() -> None:
    """All of one new line's words are the old line's, reordered (its bound is 1.0, its token diff
    keeps 0.44); another keeps them in order with two dropped (0.91): the second is the edit."""
    old = "Exosome therapy one two three four five six seven eight for depression"
    reordered = "Exosome therapy eight seven six five four three two one for depression"
    shortened = "Exosome therapy one two three four five six for depression"
    pairs = _pairing([old], [reordered, shortened], engine=diff_match_patch(), deadline=None)
    assert [(x, y) for x, y, _ in pairs] == [(0, 1)]


def test_template_pages_pair_every_paragraph_with_its_new_version() -> None:
    """A template page where every paragraph changed a little (the capture benchmark's): each old
    paragraph is edited into its own new version, as the pairing with every token diff pairs them."""
    rows = [
        f"TMS治療はうつ病の症状を改善する可能性があります。当院では{20 + 7 * k}名の方に実施。Case {k}."
        for k in range(12)
    ]
    olds, news = rows, [row.replace("可能性があります", "ことが証明されています") for row in rows]
    engine = diff_match_patch()
    pairs = _pairing(olds, news, engine=engine, deadline=None)
    assert [(x, y) for x, y, _ in pairs] == [(k, k) for k in range(12)]
    assert pairs == _pairing(olds, news, engine=engine, deadline=None, exhaustive=True)
    rendered = render_unified(diff_texts("\n".join(olds), "\n".join(news)).lines, context_lines=0)
    assert rendered.count("[-可能性があり-]") == 12 and rendered.count("{+ことが証明されてい+}") == 12


@st.composite
def template_runs(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A template page's run: each line the same sentence with its own number and case, the same
    edit made on each (some new lines left out, some added, sometimes shuffled)."""
    head, tail = draw(SENTENCE), draw(SENTENCE)
    before, after = draw(SENTENCE), draw(SENTENCE)
    numbers = draw(st.lists(st.integers(0, 99), min_size=1, max_size=10))
    olds = [f"{head}{before}{tail}{number}名 (case {k})" for k, number in enumerate(numbers)]
    news = [f"{head}{after}{tail}{number}名 (case {k})" for k, number in enumerate(numbers)]
    news = [line for line, keep in zip(news, draw(st.lists(st.booleans(), min_size=len(news))), strict=False) if keep]
    news += draw(st.lists(SENTENCE, max_size=2))
    if draw(st.booleans()):
        news = draw(st.permutations(news))
    return olds, news or [after]


@PROPERTY_SETTINGS
@given(st.one_of(st.tuples(RUN, RUN), template_runs()))
def test_pairing_with_bounds_is_the_exhaustive_one(run: tuple[list[str], list[str]]) -> None:
    """The pairing that skips token diffs its bounds decide (and diffs each middle once) gives the
    pairs and character ops of the one that computes every candidate's token diff with a plain
    engine, on random runs and on template-like ones (every line edited alike)."""
    olds, news = run
    quick = _pairing(olds, news, engine=_RepeatingEngine(), deadline=None)
    assert quick == _pairing(olds, news, engine=diff_match_patch(), deadline=None, exhaustive=True)


@PROPERTY_SETTINGS
@given(st.lists(st.tuples(SENTENCE, SENTENCE, SENTENCE, SENTENCE), min_size=1, max_size=6))
def test_the_engine_that_diffs_each_middle_once_gives_the_same_ops(lines: list[tuple[str, str, str, str]]) -> None:
    """Lines with their own start and end around middles that repeat: one engine kept for all of
    them (its middles remembered) gives each pair the ops a fresh engine gives."""
    engine = _RepeatingEngine()
    for head, before, after, tail in lines * 2:
        old, new = f"{head}{before}{tail}", f"{head}{after}{tail}"
        assert engine.diff_main(old, new, False, None) == diff_match_patch().diff_main(old, new, False, None)
        assert char_ops(old, new, engine=engine, deadline=None) == char_ops(
            old, new, engine=diff_match_patch(), deadline=None
        )


@PROPERTY_SETTINGS
@given(st.lists(st.text(alphabet="ab 1\u3000\tうA.", max_size=20), min_size=1, max_size=6))
def test_common_chars_count_the_characters_of_common_tokens(lines: list[str]) -> None:
    """The bound counted on numbered symbols is the characters of the multiset of tokens two lines
    share (runs of Latin letters and digits, runs of white space, any other character alone)."""
    tokens = _Tokens()
    for old in lines:
        for new in lines[::-1]:
            common = Counter(re.findall(r"[A-Za-z0-9]+|\s+|.", old, re.DOTALL)) & Counter(
                re.findall(r"[A-Za-z0-9]+|\s+|.", new, re.DOTALL)
            )
            assert tokens.common_chars(old, new) == sum(len(token) * count for token, count in common.items())
