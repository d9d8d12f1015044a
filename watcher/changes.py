"""Diffs between text versions: diff-match-patch with a time limit and semantic cleanup."""

from __future__ import annotations

import time
from dataclasses import dataclass

from diff_match_patch import diff_match_patch

EQUAL, INSERT, DELETE = 0, 1, -1
OP_NAMES = {EQUAL: "equal", INSERT: "insert", DELETE: "delete"}


@dataclass(frozen=True)
class TextDiff:
    ops: list[tuple[int, str]]
    inserted_chars: int
    deleted_chars: int
    seconds: float

    @property
    def changed(self) -> bool:
        return self.inserted_chars > 0 or self.deleted_chars > 0


def diff_texts(old: str, new: str, *, timeout: float = 2.0) -> TextDiff:
    """Character diff, cleaned up to human-meaningful chunks; never runs longer than ``timeout``."""
    engine = diff_match_patch()
    engine.Diff_Timeout = timeout
    started = time.perf_counter()
    ops = engine.diff_main(old, new)
    engine.diff_cleanupSemantic(ops)
    seconds = time.perf_counter() - started
    inserted = sum(len(text) for op, text in ops if op == INSERT)
    deleted = sum(len(text) for op, text in ops if op == DELETE)
    return TextDiff(ops=[(int(op), text) for op, text in ops], inserted_chars=inserted,
                    deleted_chars=deleted, seconds=seconds)


def render_unified(ops: list[tuple[int, str]], *, context_lines: int = 2, color: bool = False) -> str:
    """Line-oriented rendering: changed lines marked '-'/'+', with inline [-…-]{+…+} markers.

    Lines far from any change are folded into '…' so that a one-word edit in a long page
    stays readable.
    """
    old_lines: list[str] = [""]
    new_lines: list[str] = [""]
    changed_old: list[bool] = [False]
    changed_new: list[bool] = [False]
    for op, text in ops:
        pieces = text.split("\n")
        for index, piece in enumerate(pieces):
            if index > 0:
                if op in (EQUAL, DELETE):
                    old_lines.append("")
                    changed_old.append(op == DELETE)
                if op in (EQUAL, INSERT):
                    new_lines.append("")
                    changed_new.append(op == INSERT)
            if not piece:
                continue
            if op == EQUAL:
                old_lines[-1] += piece
                new_lines[-1] += piece
            elif op == DELETE:
                old_lines[-1] += _mark(piece, "-", color)
                changed_old[-1] = True
            else:
                new_lines[-1] += _mark(piece, "+", color)
                changed_new[-1] = True
    return _interleave(old_lines, changed_old, new_lines, changed_new, context_lines)


def _mark(piece: str, sign: str, color: bool) -> str:
    if color:
        code = "31" if sign == "-" else "32"
        return f"\x1b[{code};1m{piece}\x1b[0m"
    return f"[-{piece}-]" if sign == "-" else f"{{+{piece}+}}"


def _interleave(old_lines: list[str], changed_old: list[bool], new_lines: list[str],
                changed_new: list[bool], context_lines: int) -> str:
    out: list[str] = []
    i = j = 0
    hunks: list[tuple[str, str]] = []  # (prefix, line)
    while i < len(old_lines) or j < len(new_lines):
        if i < len(old_lines) and j < len(new_lines) and not changed_old[i] and not changed_new[j]:
            hunks.append((" ", old_lines[i]))
            i += 1
            j += 1
            continue
        while i < len(old_lines) and changed_old[i]:
            hunks.append(("-", old_lines[i]))
            i += 1
        while j < len(new_lines) and changed_new[j]:
            hunks.append(("+", new_lines[j]))
            j += 1
        if i < len(old_lines) and j >= len(new_lines):
            hunks.append(("-", old_lines[i]))
            i += 1
        elif j < len(new_lines) and i >= len(old_lines):
            hunks.append(("+", new_lines[j]))
            j += 1
    keep = [False] * len(hunks)
    for index, (prefix, _line) in enumerate(hunks):
        if prefix != " ":
            for k in range(max(0, index - context_lines), min(len(hunks), index + context_lines + 1)):
                keep[k] = True
    folded = False
    for index, (prefix, line) in enumerate(hunks):
        if keep[index]:
            out.append(f"{prefix} {line}".rstrip())
            folded = False
        elif not folded:
            out.append("  …")
            folded = True
    return "\n".join(out)
