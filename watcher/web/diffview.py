"""A line-aligned diff (``watcher.changes.LinePair`` rows) as the dashboard's diff viewer shows it
(inline and side by side), with the claim findings placed beside the lines their sentences come
from. Lines far from any change are folded (``context`` lines are kept around each change).

Pure data: segments of plain text tagged equal/insert/delete; the templates escape the text and
wrap insertions in ``<ins>`` and deletions in ``<del>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from watcher.changes import OP_NAMES, LinePair, Op

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


@dataclass
class AlignedLines:
    """Every line of both versions (numbered as in each text) and the aligned rows that hold them."""

    old: list[Line]
    new: list[Line]
    pairs: list[tuple[Line | None, Line | None, bool]]  # (old line, new line, changed)


def _line(number: int, ops: list[Op], changed: bool) -> Line:
    return Line(number, [Segment(OP_NAMES[op], text) for op, text in ops], changed=changed)


def aligned_lines(rows: Sequence[LinePair]) -> AlignedLines:
    old: list[Line] = []
    new: list[Line] = []
    pairs: list[tuple[Line | None, Line | None, bool]] = []
    for row in rows:
        old_line = new_line = None
        if row.old_number is not None:
            old_line = _line(row.old_number, row.old_ops, row.changed)
            old.append(old_line)
        if row.new_number is not None:
            new_line = _line(row.new_number, row.new_ops, row.changed)
            new.append(new_line)
        pairs.append((old_line, new_line, row.changed))
    return AlignedLines(old, new, pairs)


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


def inline_rows(lines: AlignedLines, *, context: int | None = DEFAULT_CONTEXT) -> list[Row]:
    """One column: unchanged lines once; an edited line as its old version (deletions marked)
    followed by its new version (insertions marked); removed and added lines where they stood."""
    rows: list[Row] = []
    for old, new, changed in lines.pairs:
        if not changed and old is not None and new is not None:
            rows.append(Row("same", line=new, old=old, new=new))
            continue
        if old is not None:
            rows.append(Row("removed", line=old, old=old))
        if new is not None:
            rows.append(Row("added", line=new, new=new))
    return _fold(rows, [row.kind != "same" for row in rows], context)


def side_by_side_rows(lines: AlignedLines, *, context: int | None = DEFAULT_CONTEXT) -> list[Row]:
    """Pairs of lines: unchanged and edited lines side by side, a removed or added line against a gap."""
    rows = [Row("change" if changed else "same", old=old, new=new) for old, new, changed in lines.pairs]
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
        placed.append(
            {
                **finding,
                "old_line": before_line.number if before_line else None,
                "new_line": after_line.number if after_line else None,
            }
        )
    return placed
