"""Diff-match-patch ops as lines for the dashboard's diff viewer (inline and side by side), with the
claim findings placed beside the lines their sentences come from. Lines far from any change are
folded (``context`` lines are kept around each change).

Pure data: segments of plain text tagged equal/insert/delete; the templates escape the text and
wrap insertions in ``<ins>`` and deletions in ``<del>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from watcher.changes import DELETE, EQUAL, INSERT, OP_NAMES

DEFAULT_CONTEXT = 3


@dataclass
class Segment:
    op: str  # equal | insert | delete
    text: str


@dataclass
class Line:
    number: int | None
    segments: list[Segment] = field(default_factory=list)
    changed: bool = False
    findings: list[dict[str, Any]] = field(default_factory=list)

    def text(self, *ops: str) -> str:
        return "".join(s.text for s in self.segments if not ops or s.op in ops)


@dataclass
class Row:
    """One row of a view: a line (inline), a pair of lines (side by side), or folded unchanged lines."""

    kind: str  # same | removed | added (inline) | change (side by side) | fold
    line: Line | None = None  # inline: the line shown
    old: Line | None = None
    new: Line | None = None
    folded: int = 0


def _split(ops: list[tuple[int, str]], keep: set[int]) -> list[Line]:
    lines = [Line(1)]
    for op, text in ops:
        if op not in keep:
            continue
        for index, piece in enumerate(text.split("\n")):
            if index > 0:
                # A line break belongs to the line it ends: the next line is changed only if
                # inserted or deleted text lands on it.
                lines.append(Line(len(lines) + 1))
            if piece:
                lines[-1].segments.append(Segment(OP_NAMES[op], piece))
                if op != EQUAL:
                    lines[-1].changed = True
    return lines


def old_and_new_lines(ops: list[tuple[int, str]]) -> tuple[list[Line], list[Line]]:
    return _split(ops, {EQUAL, DELETE}), _split(ops, {EQUAL, INSERT})


def _fold(rows: list[Row], changed: list[bool], context: int | None) -> list[Row]:
    if context is None:
        return rows
    keep = [False] * len(rows)
    for index, is_changed in enumerate(changed):
        if is_changed:
            for k in range(max(0, index - context), min(len(rows), index + context + 1)):
                keep[k] = True
    out: list[Row] = []
    for index, row in enumerate(rows):
        if keep[index]:
            out.append(row)
        elif out and out[-1].kind == "fold":
            out[-1].folded += 1
        else:
            out.append(Row("fold", folded=1))
    return out


def _blocks(old: list[Line], new: list[Line]) -> Iterator[tuple[list[Line], list[Line], bool]]:
    """Unchanged line pairs (one old, one new, False) and changed blocks (olds, news, True), in order."""
    i = j = 0
    while i < len(old) or j < len(new):
        if i < len(old) and j < len(new) and not old[i].changed and not new[j].changed:
            yield [old[i]], [new[j]], False
            i, j = i + 1, j + 1
            continue
        olds: list[Line] = []
        news: list[Line] = []
        while i < len(old) and old[i].changed:
            olds.append(old[i])
            i += 1
        while j < len(new) and new[j].changed:
            news.append(new[j])
            j += 1
        if not olds and not news:  # one side ran out: the rest of the other is unmatched
            if i < len(old):
                olds.append(old[i])
                i += 1
            else:
                news.append(new[j])
                j += 1
        yield olds, news, True


def inline_rows(old: list[Line], new: list[Line], *, context: int | None = DEFAULT_CONTEXT) -> list[Row]:
    """One column: unchanged lines once; each changed block as its old lines (deletions marked)
    followed by its new lines (insertions marked)."""
    rows: list[Row] = []
    for olds, news, changed in _blocks(old, new):
        if not changed:
            rows.append(Row("same", line=news[0], old=olds[0], new=news[0]))
            continue
        rows.extend(Row("removed", line=line, old=line) for line in olds)
        rows.extend(Row("added", line=line, new=line) for line in news)
    return _fold(rows, [row.kind != "same" for row in rows], context)


def side_by_side_rows(old: list[Line], new: list[Line], *, context: int | None = DEFAULT_CONTEXT) -> list[Row]:
    """Pairs of lines: unchanged lines side by side, the lines of a changed block paired in order."""
    rows: list[Row] = []
    for olds, news, changed in _blocks(old, new):
        if not changed:
            rows.append(Row("same", old=olds[0], new=news[0]))
            continue
        for k in range(max(len(olds), len(news))):
            rows.append(Row("change", old=olds[k] if k < len(olds) else None, new=news[k] if k < len(news) else None))
    return _fold(rows, [row.kind == "change" for row in rows], context)


_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return _SPACE.sub(" ", text).strip().lstrip("#-• ").strip()


def find_line(lines: list[Line], sentence: str | None, *ops: str) -> Line | None:
    """The line a finding's sentence comes from: the first line containing it, else (a list item, a
    short heading-backed claim) the first line contained in it."""
    if not sentence:
        return None
    wanted = _norm(sentence)
    if not wanted:
        return None
    texts = [_norm(line.text(*ops)) for line in lines]
    for line, text in zip(lines, texts, strict=True):
        if wanted in text:
            return line
    for line, text in zip(lines, texts, strict=True):
        if len(text) >= 2 and text in wanted and line.changed:
            return line
    return None


def place_findings(findings: list[dict[str, Any]], *, old: list[Line], new: list[Line]) -> list[dict[str, Any]]:
    """Attach each finding to the old and new lines of its before/after sentences. Returns the
    findings with ``old_line``/``new_line`` (line numbers, or None when not found)."""
    placed = []
    for finding in findings:
        before_line = find_line(old, finding.get("before"))
        after_line = find_line(new, finding.get("after"))
        if before_line is not None:
            before_line.findings.append(finding)
        if after_line is not None:
            after_line.findings.append(finding)
        placed.append({**finding, "old_line": before_line.number if before_line else None,
                       "new_line": after_line.number if after_line else None})
    return placed
