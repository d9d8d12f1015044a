"""Diffs between text versions, aligned on lines first and then on characters inside changed lines.

A diff computed on characters and cut into lines afterwards loses step: the pairing of unchanged
lines drifts after a small edit, and a paragraph can appear before its own heading. So:

1. lines are aligned with diff-match-patch's line mode (each distinct line becomes one symbol);
2. inside each run of removed and added lines, old and new lines are paired when they are similar
   enough (an order-keeping alignment that maximises the similarity of the pairs);
3. only inside a pair are characters diffed (with semantic cleanup).

The result keeps both versions' real line numbers and follows the order of both texts. One deadline
(``timeout``) covers the three steps; past it the diff is coarser, never wrong.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import filterfalse
from operator import itemgetter

from diff_match_patch import diff_match_patch

EQUAL, INSERT, DELETE = 0, 1, -1
OP_NAMES = {EQUAL: "equal", INSERT: "insert", DELETE: "delete"}

Op = tuple[int, str]

# Two changed lines are shown as one edited line when their character diff keeps at least this share
# of their characters; below it they are a removed line and an added line (pairing unrelated lines
# would show a confetti of tiny common pieces).
PAIR_SIMILARITY = 0.2
# A cheap first filter (Dice coefficient of character trigrams); the character diff is then tried on
# each line's best few candidates only.
CANDIDATE_SIMILARITY = 0.12
CANDIDATES_PER_LINE = 3
# The pairing inside a run of changed lines is quadratic; longer runs are left unpaired.
MAX_PAIRING_CELLS = 40_000
# Lines longer than this (a page on one line) are not scored for similarity: their trigrams and tokens
# would take hundreds of MB. A run of one such removed line and one added line is still shown as an
# edited line when its character diff keeps PAIR_SIMILARITY of it; longer lines in longer runs are
# left unpaired.
MAX_SCORED_LINE_CHARS = 20_000


@dataclass(frozen=True)
class LinePair:
    """One row of a line-aligned diff: an unchanged line, an edited line (old and new), a removed
    line (no new number) or an added line (no old number). Numbers are 1-based line numbers in each
    version; ``ops`` are the character ops turning the old line into the new one."""

    old_number: int | None
    new_number: int | None
    ops: tuple[Op, ...]

    @property
    def old_text(self) -> str:
        return "".join(text for op, text in self.ops if op != INSERT)

    @property
    def new_text(self) -> str:
        return "".join(text for op, text in self.ops if op != DELETE)

    @property
    def old_ops(self) -> list[Op]:
        return [(op, text) for op, text in self.ops if op != INSERT]

    @property
    def new_ops(self) -> list[Op]:
        return [(op, text) for op, text in self.ops if op != DELETE]

    @property
    def changed(self) -> bool:
        return self.old_number is None or self.new_number is None or any(op != EQUAL for op, _ in self.ops)


@dataclass(frozen=True)
class TextDiff:
    ops: list[Op]
    inserted_chars: int
    deleted_chars: int
    seconds: float
    lines: tuple[LinePair, ...] = ()

    @property
    def changed(self) -> bool:
        return self.inserted_chars > 0 or self.deleted_chars > 0


def text_lines(text: str) -> list[str]:
    """The lines of a text as numbered in diffs: split on newlines; an empty text has none."""
    return text.split("\n") if text else []


def diff_texts(old: str, new: str, *, timeout: float = 2.0) -> TextDiff:
    """Line-aligned diff with character detail inside edited lines; never runs much past ``timeout``."""
    started = time.perf_counter()
    engine = _RepeatingEngine()
    engine.Diff_Timeout = timeout
    deadline = time.time() + timeout if timeout > 0 else None
    lines = tuple(align_lines(text_lines(old), text_lines(new), engine=engine, deadline=deadline))
    ops = _joined_ops(lines, old_count=len(text_lines(old)), new_count=len(text_lines(new)))
    inserted = sum(len(text) for op, text in ops if op == INSERT)
    deleted = sum(len(text) for op, text in ops if op == DELETE)
    return TextDiff(
        ops=ops, inserted_chars=inserted, deleted_chars=deleted, seconds=time.perf_counter() - started, lines=lines
    )


# The middles diffed (once a common start and end are cut off) that are remembered for the rest of a
# diff: the small pieces a page edited by a template repeats on every line, never a whole long text.
MAX_REMEMBERED_CHARS = 4_000


class _RepeatingEngine(diff_match_patch):  # type: ignore[misc]  # diff_match_patch has no types
    """A diff-match-patch engine that diffs each middle once: a template edit ("may help" into "is
    proven to help" on each of a page's paragraphs) leaves the same middle once every line's own
    start and end are cut off, and its diff is the costly part (``diff_bisect``). A middle's diff is
    a function of the two strings (and of the engine's settings, fixed for its life); one cut short
    by the deadline is not remembered, so a middle diffed again is never coarser than it was."""

    def __init__(self) -> None:
        super().__init__()
        self._middles: dict[tuple[str, str, bool], tuple[tuple[int, str], ...]] = {}
        self._inside = False  # diffing a middle: the pieces it splits into are not remembered (rarely met again)

    def diff_compute(self, text1: str, text2: str, checklines: bool, deadline: float) -> list[tuple[int, str]]:
        if self._inside or len(text1) + len(text2) > MAX_REMEMBERED_CHARS:
            diffs: list[tuple[int, str]] = super().diff_compute(text1, text2, checklines, deadline)
            return diffs
        key = (text1, text2, checklines)
        known = self._middles.get(key)
        if known is not None:
            return list(known)
        self._inside = True
        try:
            diffs = super().diff_compute(text1, text2, checklines, deadline)
        finally:
            self._inside = False
        # Every deadline check inside ran before now: if now is not past it, none of them cut it short.
        if time.time() <= deadline:
            self._middles[key] = tuple(diffs)
        return diffs


def align_lines(
    old: Sequence[str], new: Sequence[str], *, engine: diff_match_patch, deadline: float | None
) -> Iterator[LinePair]:
    """The rows of the diff of two lists of lines, in the order of both."""
    symbols: dict[str, str] = {}

    def encode(lines: Sequence[str]) -> str:
        return "".join(symbols.setdefault(line, _symbol(len(symbols))) for line in lines)

    line_ops = engine.diff_main(encode(old), encode(new), False, deadline)
    i = j = 0
    removed: list[int] = []
    added: list[int] = []
    for op, run in [*line_ops, (EQUAL, "")]:
        if op == DELETE:
            removed.extend(range(i, i + len(run)))
            i += len(run)
        elif op == INSERT:
            added.extend(range(j, j + len(run)))
            j += len(run)
        else:
            if removed or added:
                yield from _changed_run(old, new, removed, added, engine=engine, deadline=deadline)
                removed, added = [], []
            for k in range(len(run)):
                yield LinePair(i + k + 1, j + k + 1, ((EQUAL, old[i + k]),) if old[i + k] else ())
            i, j = i + len(run), j + len(run)


def _symbol(index: int) -> str:
    code = index + 1
    return chr(code + 0x800 if code >= 0xD800 else code)  # skip the surrogate range


def _changed_run(
    old: Sequence[str],
    new: Sequence[str],
    removed: list[int],
    added: list[int],
    *,
    engine: diff_match_patch,
    deadline: float | None,
) -> Iterator[LinePair]:
    """Removed and added lines of one run, edited pairs diffed on characters, in the order of both."""
    pairs = _pairing([old[i] for i in removed], [new[j] for j in added], engine=engine, deadline=deadline)
    r = a = 0
    for pr, pa, ops in [*pairs, (len(removed), len(added), ())]:
        for k in range(r, pr):
            yield LinePair(removed[k] + 1, None, ((DELETE, old[removed[k]]),) if old[removed[k]] else ())
        for k in range(a, pa):
            yield LinePair(None, added[k] + 1, ((INSERT, new[added[k]]),) if new[added[k]] else ())
        if pr < len(removed) and pa < len(added):
            yield LinePair(removed[pr] + 1, added[pa] + 1, ops)
        r, a = pr + 1, pa + 1


def _trigrams(line: str) -> frozenset[str]:
    """The line's character trigrams (case-folded, white space folded) as numbered occurrences
    (``_numbered``): the size of the intersection of two such sets is the size of the intersection
    of the two multisets, counted in C. A line shorter than three characters is one item."""
    text = " ".join(line.casefold().split())
    return _numbered([text[k : k + 3] for k in range(len(text) - 2)] if len(text) > 2 else [text])


def _numbered(items: Sequence[str]) -> frozenset[str]:
    """Each item once, and its second, third... occurrences numbered after a line break that no
    item contains ("abc", "abc\n2"): two such sets intersect as the two multisets do."""
    unique = frozenset(items)
    if len(unique) == len(items):
        return unique
    counts = Counter(items)
    return unique.union(f"{item}\n{k}" for item, count in counts.items() if count > 1 for k in range(2, count + 1))


def _scored_trigrams(line: str) -> frozenset[str]:
    """The line's trigrams (never empty: a short line counts as one), none for a line too long to score."""
    return _trigrams(line) if len(line) <= MAX_SCORED_LINE_CHARS else frozenset()


def diff_chars(before: str, after: str, *, timeout: float = 2.0) -> list[Op]:
    """Character diff of two short texts known to be versions of one another (the before and after
    sentences of a finding), with semantic cleanup and changes widened to whole Latin words."""
    engine = diff_match_patch()
    engine.Diff_Timeout = timeout
    return list(char_ops(before, after, engine=engine, deadline=time.time() + timeout if timeout > 0 else None))


def char_ops(before: str, after: str, *, engine: diff_match_patch, deadline: float | None) -> tuple[Op, ...]:
    ops = engine.diff_main(before, after, False, deadline)
    engine.diff_cleanupSemantic(ops)
    return tuple(widen_to_words([(int(op), text) for op, text in ops]))


_WORD_TAIL = re.compile(r"[A-Za-z0-9]+$")
_WORD_HEAD = re.compile(r"^[A-Za-z0-9]+")


def widen_to_words(ops: list[Op]) -> list[Op]:
    """A character diff of "Why exosome" against "Exosome" keeps "xosome" as equal, which reads
    badly ("[-Why e-]xosome"): a change that starts or ends inside a Latin word is widened to the
    whole word. Japanese has no spaces and keeps the character-level diff."""
    # Equal runs and, between them, the (deleted, inserted) text of each change.
    equals: list[str] = []  # equals[i] comes before changes[i]; one more (maybe empty) at the end
    changes: list[list[str]] = []
    equal, change = "", None
    for op, text in ops:
        if op == EQUAL:
            if change is not None:
                equals.append(equal)
                changes.append(change)
                equal, change = "", None
            equal += text
        else:
            change = change or ["", ""]
            change[0 if op == DELETE else 1] += text
    if change is not None:
        equals.append(equal)
        changes.append(change)
        equal = ""
    equals.append(equal)
    for index, change in enumerate(changes):
        edges = [text for text in change if text]
        tail = _WORD_TAIL.search(equals[index])
        if tail and any(_WORD_HEAD.match(text) for text in edges):
            equals[index] = equals[index][: tail.start()]
            change[0], change[1] = tail.group() + change[0], tail.group() + change[1]
        head = _WORD_HEAD.match(equals[index + 1])
        if head and any(_WORD_TAIL.search(text) for text in edges):
            equals[index + 1] = equals[index + 1][head.end() :]
            change[0], change[1] = change[0] + head.group(), change[1] + head.group()
    out: list[Op] = []
    for index, equal in enumerate(equals):
        if equal:
            out.append((EQUAL, equal))
        if index < len(changes):
            out.extend((op, text) for op, text in ((DELETE, changes[index][0]), (INSERT, changes[index][1])) if text)
    return out


# Latin words and digits are one token each, anything else (Japanese) one character each.
_TOKEN = re.compile(r"[A-Za-z0-9]+|\s+|.", re.DOTALL)


class _Tokens:
    """Lines as tokens (``_TOKEN``), each distinct line split and encoded once: one symbol per
    distinct token across a run of changed lines, so that a diff of two lines runs on two short
    strings. What the share kept by a diff is depends only on which tokens are equal, not on the
    symbols chosen (semantic cleanup moves edges by whole symbols and keeps the multiset of equal
    ones), so one table for the run gives the same shares as one per pair of lines."""

    def __init__(self) -> None:
        self.symbols: dict[str, str] = {}
        self.sizes: dict[str, int] = {}  # each symbol: the characters of its token
        self.weights: dict[str, int] = {}  # each numbered symbol (``_numbered``): the characters of its token
        self.known: dict[str, tuple[str, frozenset[str]]] = {}

    def encode(self, line: str) -> tuple[str, frozenset[str]]:
        """The line's symbols and its numbered symbols (``_numbered``). Every line of a run is
        encoded, so the loops over its tokens run in C (map, filterfalse)."""
        known = self.known.get(line)
        if known is None:
            tokens = _TOKEN.findall(line)
            symbols, sizes = self.symbols, self.sizes
            for token in list(filterfalse(symbols.__contains__, dict.fromkeys(tokens))):
                symbol = symbols[token] = _symbol(len(symbols))
                sizes[symbol] = len(token)
            encoded = "".join(map(symbols.__getitem__, tokens))
            numbered = _numbered(encoded)
            unweighed = numbered.difference(self.weights)
            weights = map(sizes.__getitem__, map(itemgetter(0), unweighed))  # "s" and "s\n2": the size of s
            self.weights.update(zip(unweighed, weights, strict=True))
            known = self.known[line] = (encoded, numbered)
        return known

    def common_chars(self, old: str, new: str) -> int:
        """The characters of the tokens two lines have in common: a bound on what any diff of the two
        keeps, since a diff's equal runs are common tokens in both orders."""
        return sum(map(self.weights.__getitem__, self.encode(old)[1] & self.encode(new)[1]))


def _kept_share(old: str, new: str, *, tokens: _Tokens, engine: diff_match_patch, deadline: float | None) -> float:
    """The share of two lines' characters that a diff keeps (after semantic cleanup, so that
    scattered common words do not count), computed on the lines' tokens: several times cheaper than
    characters."""
    ops = engine.diff_main(tokens.encode(old)[0], tokens.encode(new)[0], False, deadline)
    engine.diff_cleanupSemantic(ops)
    sizes = tokens.sizes
    total = len(old) + len(new)
    return 2 * sum(sum(map(sizes.__getitem__, run)) for op, run in ops if op == EQUAL) / total if total else 1.0


def _pairing(
    olds: list[str], news: list[str], *, engine: diff_match_patch, deadline: float | None, exhaustive: bool = False
) -> list[tuple[int, int, tuple[Op, ...]]]:
    """Pairs (old index, new index, character ops), increasing on both sides, of lines similar
    enough to read as one edited line: the order-keeping choice with the largest summed similarity
    (a small dynamic programme), the similarity being the share a token diff keeps.

    The token diff is the cost, so it runs only where it can change the choice. Each candidate has
    bounds on its share: above, the characters of the tokens the two lines have in common; below,
    those of their common start and end. The best choice at the upper bounds is taken as it is when
    even its lower bounds beat every other choice at their upper bounds (the one choice that can be
    best; template pages, where every paragraph changed a little, end here without a token diff).
    Otherwise the shares of its candidates, and of those through which another choice could match
    it, are computed, and the choice made again, until one is certain or every candidate that can
    matter has its share. The choice is the one all shares computed would give (``exhaustive``
    computes them all, for the tests); only a deadline makes it coarser, as before."""
    m, n = len(olds), len(news)
    if not m or not n or m * n > MAX_PAIRING_CELLS:
        return []
    if m == n == 1 and max(len(olds[0]), len(news[0])) > MAX_SCORED_LINE_CHARS:
        ops = char_ops(olds[0], news[0], engine=engine, deadline=deadline)
        kept = 2 * sum(len(text) for op, text in ops if op == EQUAL) / (len(olds[0]) + len(news[0]))
        return [(0, 0, ops)] if kept >= PAIR_SIMILARITY else []
    old_grams, new_grams = [_scored_trigrams(line) for line in olds], [_scored_trigrams(line) for line in news]
    dice: dict[tuple[int, int], float] = {}
    new_headings = [line.startswith("#") for line in news]
    for x in range(m):
        heading = olds[x].startswith("#")
        grams = old_grams[x]
        if not grams:  # too long to score
            continue
        alike = False
        for y in range(n):
            other = new_grams[y]
            if heading != new_headings[y] or not other:  # a heading is edited into a heading
                continue
            # Counted by building the smaller set: the trigrams that differ when the row's previous
            # line shared most of them (the lines of a template page all do), else those in common.
            common = len(grams) - len(grams - other) if alike else len(grams & other)
            alike = 2 * common > len(grams)
            similar = 2 * common / (len(grams) + len(other))
            if similar >= CANDIDATE_SIMILARITY:
                dice[x, y] = similar
    # The token diff (the real measure) only for each line's few best-looking partners.
    shortlist: set[tuple[int, int]] = set()
    for side in (0, 1):
        by_line: dict[int, list[tuple[float, tuple[int, int]]]] = {}
        for cell, similar in dice.items():
            by_line.setdefault(cell[side], []).append((similar, cell))
        for options in by_line.values():
            shortlist.update(cell for _, cell in sorted(options, reverse=True)[:CANDIDATES_PER_LINE])
    tokens = _Tokens()
    bounds: dict[tuple[int, int], float] = {}
    lows: dict[tuple[int, int], float] = {}
    for x, y in sorted(shortlist):
        total = len(olds[x]) + len(news[y])
        if not total:  # two empty lines: nothing to bound
            bounds[x, y], lows[x, y] = 1.0, 0.0
            continue
        bound = 2 * tokens.common_chars(olds[x], news[y]) / total
        if bound >= PAIR_SIMILARITY:
            bounds[x, y] = bound
            lows[x, y] = 0.0 if exhaustive else 2 * _kept_edges(tokens, olds[x], news[y], engine=engine) / total
    shares: dict[tuple[int, int], float] = {}
    while True:
        values = {cell: shares.get(cell, bound) for cell, bound in bounds.items()}
        score = _best_after(values, m, n)
        path = _best_path(score, m, n)
        through = _through(values, score, m, n)
        low = sum(shares.get(cell, lows[cell]) for cell in path)
        chosen = set(path)
        contenders = [cell for cell in values if cell not in chosen and through[cell] >= low - 1e-9]
        unsure = [cell for cell in path if cell not in shares and lows[cell] < PAIR_SIMILARITY]
        if not contenders and not unsure:
            # Any other choice has a candidate off this one (at most its bound, which cannot reach
            # this choice's lower bounds) or only some of its candidates (each of which adds a share).
            break
        todo = sorted(cell for cell in (bounds if exhaustive else {*path, *contenders}) if cell not in shares)
        if not todo:
            break  # every cell that can matter has its share: the choice all shares computed would give
        for x, y in todo:
            if deadline is not None and time.time() > deadline:  # the rest is left unpaired
                bounds = {cell: bound for cell, bound in bounds.items() if cell in shares}
                break
            share = _kept_share(olds[x], news[y], tokens=tokens, engine=engine, deadline=deadline)
            if share >= PAIR_SIMILARITY:
                shares[x, y] = share
            else:
                del bounds[x, y]
    return [(x, y, char_ops(olds[x], news[y], engine=engine, deadline=deadline)) for x, y in path]


def _kept_edges(tokens: _Tokens, old: str, new: str, *, engine: diff_match_patch) -> int:
    """The characters of the tokens two lines share at their start and at their end: a diff keeps
    them whole (semantic cleanup removes only equalities with changes on both sides), so they bound
    what it keeps from below."""
    before, after = tokens.encode(old)[0], tokens.encode(new)[0]
    head = engine.diff_commonPrefix(before, after)
    tail = engine.diff_commonSuffix(before[head:], after[head:])
    size = tokens.sizes.__getitem__
    return sum(map(size, before[:head])) + sum(map(size, before[len(before) - tail :]))


def _best_after(values: dict[tuple[int, int], float], m: int, n: int) -> list[list[float]]:
    """score[x][y]: the largest sum of values of an increasing choice of cells from (x, y) on."""
    score = [[0.0] * (n + 1) for _ in range(m + 1)]
    for x in range(m - 1, -1, -1):
        row, below = score[x], score[x + 1]
        for y in range(n - 1, -1, -1):
            best = max(below[y], row[y + 1])
            value = values.get((x, y))
            if value is not None:
                best = max(best, below[y + 1] + value)
            row[y] = best
    return score


def _best_path(score: list[list[float]], m: int, n: int) -> list[tuple[int, int]]:
    """The cells of the best choice (``_best_after``), skipping old lines before new ones on ties."""
    path = []
    x = y = 0
    while x < m and y < n:
        if score[x][y] == score[x + 1][y]:
            x += 1
        elif score[x][y] == score[x][y + 1]:
            y += 1
        else:
            path.append((x, y))
            x, y = x + 1, y + 1
    return path


def _through(
    values: dict[tuple[int, int], float], score: list[list[float]], m: int, n: int
) -> dict[tuple[int, int], float]:
    """For each cell, the largest sum of an increasing choice of cells that includes it."""
    before = [[0.0] * (n + 1) for _ in range(m + 1)]  # before[x][y]: the best sum of cells above and left
    for x in range(m):
        for y in range(n):
            best = max(before[x][y + 1], before[x + 1][y])
            value = values.get((x, y))
            if value is not None:
                best = max(best, before[x][y] + value)
            before[x + 1][y + 1] = best
    return {(x, y): before[x][y] + value + score[x + 1][y + 1] for (x, y), value in values.items()}


def _joined_ops(lines: Sequence[LinePair], *, old_count: int, new_count: int) -> list[Op]:
    """The rows as one diff-match-patch op list over the whole texts (line breaks included)."""
    ops: list[Op] = []

    def add(op: int, text: str) -> None:
        if not text:
            return
        if ops and ops[-1][0] == op:
            ops[-1] = (op, ops[-1][1] + text)
        else:
            ops.append((op, text))

    for row in lines:
        for op, text in row.ops:
            add(op, text)
        old_break = row.old_number is not None and row.old_number < old_count
        new_break = row.new_number is not None and row.new_number < new_count
        if old_break and new_break:
            add(EQUAL, "\n")
        elif old_break:
            add(DELETE, "\n")
        elif new_break:
            add(INSERT, "\n")
    return ops


# --- plain-text rendering (the CLI) -----------------------------------------------------------------


def _mark(piece: str, sign: str, color: bool) -> str:
    if color:
        code = "31" if sign == "-" else "32"
        return f"\x1b[{code};1m{piece}\x1b[0m"
    return f"[-{piece}-]" if sign == "-" else f"{{+{piece}+}}"


def _side(ops: list[Op], sign: str, *, whole: bool, color: bool) -> str:
    if whole:  # a whole removed or added line: the sign says it all
        text = "".join(text for _, text in ops)
        return _mark(text, sign, True) if color and text else text
    return "".join(text if op == EQUAL else _mark(text, sign, color) for op, text in ops)


def render_unified(lines: Sequence[LinePair], *, context_lines: int = 2, color: bool = False) -> str:
    """Unified-diff style text: hunks headed ``@@ -old,count +new,count @@`` with the real line
    numbers, unchanged lines prefixed with a space, removed with '-', added with '+'; inside an edited
    line the changed characters are marked ``[-…-]`` / ``{+…+}`` (or coloured)."""
    keep = [False] * len(lines)
    for index, row in enumerate(lines):
        if row.changed:
            for k in range(max(0, index - context_lines), min(len(lines), index + context_lines + 1)):
                keep[k] = True
    out: list[str] = []
    index = 0
    while index < len(lines):
        if not keep[index]:
            index += 1
            continue
        end = index
        while end < len(lines) and keep[end]:
            end += 1
        out.append(_hunk_header(lines, index, end))
        for row in lines[index:end]:
            if not row.changed:
                out.append(f"  {row.new_text}".rstrip())
                continue
            edited = row.old_number is not None and row.new_number is not None
            if row.old_number is not None:
                out.append(f"- {_side(row.old_ops, '-', whole=not edited, color=color)}".rstrip())
            if row.new_number is not None:
                out.append(f"+ {_side(row.new_ops, '+', whole=not edited, color=color)}".rstrip())
        index = end
    return "\n".join(out)


def _hunk_header(lines: Sequence[LinePair], start: int, end: int) -> str:
    def span(attr: str) -> str:
        numbers = [n for row in lines[start:end] if (n := getattr(row, attr)) is not None]
        if numbers:
            return f"{numbers[0]},{len(numbers)}"
        # No line on this side: the number of the line after which the hunk goes (0: the start).
        return f"{next((n for row in reversed(lines[:start]) if (n := getattr(row, attr)) is not None), 0)},0"

    return f"@@ -{span('old_number')} +{span('new_number')} @@"
