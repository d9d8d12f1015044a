"""Headings as context: which lines sit in an indications list, an exclusion list or a reference list.

A section starts at a heading whose words give it a role (see ``data/headings.yaml``): a ``#`` heading,
or in a plain capture a short line without a sentence end (「適応可能な精神症状」, "Targeted Conditions",
「参考│」). It holds the list items, table rows and short lines that follow:

- a ``#`` section ends at the next heading of the same or a higher level;
- a section opened by a plain short line ends at a long paragraph, at the next ``#`` heading, and
  (for indication and exclusion lists) at a blank line after its first item; a reference list ends at
  the first line that is not a reference.

Items of an indications section claim their indications at the heading's strength (3, or lower when
the heading hedges: 「期待できる症状」 is 2, "Who may benefit" is 1) unless the item says more itself;
items of an exclusions section (対象外, "Contraindications", "We do not treat") exclude them. A sentence
that introduces the list (「次のような症状の改善が期待できます。」, "TMS can help with:") sets the list's
strength, or opens a list of its own when no heading did.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from watcher.claims.lexicon import HEADINGS
from watcher.claims.references import Reference, parse_reference
from watcher.claims.segment import BLANK, HEADING, ITEM, PARAGRAPH, ROW, Block
from watcher.claims.strength import SentenceAssessment, assess
from watcher.extract.normalize import fold_case, normalise

INDICATIONS = "indications"
EXCLUSIONS = "exclusions"
REFERENCES = "references"
LIST_LEAD_IN = "list_lead_in"

SHORT_JAPANESE_LINE = 40
SHORT_ENGLISH_LINE = 90
_HEADING_END = ":：│|-–— "
_IMPLICIT_LEVEL = 7  # deeper than any "#" heading
_TRAILING_CLOSERS = " 」』)]】\"'"
_JAPANESE_PREDICATE_ENDINGS = ("ます", "です", "る", "た", "い", "だ", "う", "ません", "よ", "ね")
_TITLE_CASE_SHARE = 0.6
_WIDE = re.compile("[\u3001-\U0010ffff]")  # a character past U+3000: Japanese text
# Topic headings that discuss a claim rather than make it.
DISCUSSION_WORDS = re.compile(
    r"メカニズム|仕組み|しくみ|機序|研究|論文|エビデンス|根拠|evidence|research|stud(?:y|ies)|mechanism|science|trial",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class HeadingRole:
    role: str
    level: int  # the strength an indications list claims; 0 for other roles


class Line(NamedTuple):  # one a line of every page: a named tuple is the cheapest immutable record
    block: Block
    is_heading: bool
    role: str | None  # the role of the section this line is an item of
    implicit_level: int | None  # the claim an item of an indications list inherits
    headings: tuple[str, ...]  # enclosing headings, outermost first
    # An item of a references section: its reference, parsed when the walk tested it (not parsed again).
    reference: Reference | None = None


@dataclass
class _Section:
    role: HeadingRole
    depth: int
    implicit: bool
    items: int = 0


def heading_role(text: str) -> HeadingRole | None:
    """The role a heading gives the lines under it, or None."""
    norm = normalise(text).strip().strip(_HEADING_END).strip()
    if not norm:
        return None
    hits = HEADINGS.scan(norm)
    kinds = {hit.term.kind for hit in hits}
    if not kinds - {"blocker"}:
        return None
    if "heading_references" in kinds:
        return HeadingRole(REFERENCES, 0)
    # A heading may hold a list lead-in and nothing else ("This post will discuss the following:"): no
    # indications heading then, and its own wording decides, as any heading's below.
    role_level = max((hit.term.level or 0 for hit in hits if hit.term.kind == "heading_indications"), default=0)
    assessment = assess(norm, implicit_level=role_level, normalised=True)
    if assessment.excluded:
        return HeadingRole(EXCLUSIONS, 0)
    # A question heading ("Who can benefit from TMS?") still introduces the list it asks about.
    level = max((clause.level for clause in assessment.clauses), default=0)
    return HeadingRole(INDICATIONS, level) if level > 0 else None


def list_lead_in(text: str) -> HeadingRole | None:
    """The role a sentence gives the list after it: 「次のような症状の改善が期待できます。」 (indications at
    2), "TMS can help with:" (1), 「…が活用されている治療の一部をご紹介します。」 (3, a use),
    「以下に当てはまる方は対象外です。」 (exclusions). It must end with a colon or point ahead (次のような, 以下の,
    ご紹介します, "the following"), and name no indication itself."""
    norm = normalise(text).strip()
    if not norm.endswith((":", "：")):
        # Most paragraphs hold no lead-in form at all: a substring test rules the scan out.
        folded = fold_case(norm)
        if not HEADINGS.may_find(LIST_LEAD_IN, folded):
            return None
        if not any(hit.term.kind == LIST_LEAD_IN for hit in HEADINGS.scan(norm, folded)):
            return None
    # implicit_level=0: an offer or use (「…が活用されている治療をご紹介します」) counts without an indication of
    # its own, because the list supplies them; it adds no claim of its own.
    assessment = assess(norm, implicit_level=0, normalised=True)
    if assessment.indications or assessment.question:
        return None
    if assessment.excluded:
        return HeadingRole(EXCLUSIONS, 0)
    level = max((clause.level for clause in assessment.clauses if clause.therapeutic), default=0)
    return HeadingRole(INDICATIONS, level) if level else None


def is_claim_heading(assessment: SentenceAssessment) -> bool:
    """A noun-phrase heading that names a treatment, an indication and an effect on it: 「ADHDに対するTMSの
    効果」, "Exosome Benefits for Depression". It presupposes the effect, so it claims like an assertion
    (its own cue decides the level: 3 for 効果/benefits, 2 for 期待される効果, 0 in a question). A heading
    about the mechanism, the evidence or the research (「…改善メカニズム」, "Evidence Supporting …") discusses
    the claim without making it."""
    return (
        bool(assessment.treatments and assessment.indications)
        and not assessment.question
        and any(clause.therapeutic for clause in assessment.clauses)
        and DISCUSSION_WORDS.search(assessment.text) is None
    )


def is_topic_heading(text: str) -> bool:
    """A heading that names a topic rather than stating a claim: 「エクソソームの精神症状改善メカニズム」,
    "Evidence Supporting Exosome Therapy for Depression". A heading that reads as a sentence (a Japanese
    predicate ending, a final "!" or ".", an English heading in sentence case) may claim."""
    stripped = normalise(text).strip().rstrip(_TRAILING_CLOSERS)
    if not stripped or stripped.endswith(("!", ".", "。")):
        return False
    if _WIDE.search(stripped):
        return not stripped.endswith(_JAPANESE_PREDICATE_ENDINGS)
    words = [word for word in stripped.split() if len(word) >= 4 and word[0].isalpha()]
    capitalised = sum(1 for word in words if word[0].isupper())
    return len(words) >= 2 and capitalised / len(words) >= _TITLE_CASE_SHARE


def exclusion_heading(text: str) -> bool:
    """A heading that excludes ("対象外となる方", "Who should not have TMS") even without a role word."""
    return assess(text).excluded


def is_short(text: str) -> bool:
    limit = SHORT_JAPANESE_LINE if _WIDE.search(text) else SHORT_ENGLISH_LINE
    return len(text) <= limit and text.count("。") <= 1


def is_heading_like(text: str) -> bool:
    """A plain line that reads as a heading: short and without a sentence end."""
    stripped = text.rstrip()
    return is_short(stripped) and not stripped.endswith(("。", ".", "!", "?"))


def walk(blocks: Iterable[Block]) -> list[Line]:
    lines: list[Line] = []
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()  # the texts of ``stack``: made when it changes, not for every line
    section: _Section | None = None
    for block in blocks:
        if block.kind == BLANK:
            if section and section.implicit and section.items and section.role.role != REFERENCES:
                section = None
            continue
        if block.kind == HEADING:
            stack = [entry for entry in stack if entry[0] < block.level]
            outer = _path(stack)
            stack.append((block.level, block.text))
            path = (*outer, block.text)
            if section and block.level <= section.depth:
                section = None
            role = _role_of(block.text)
            if role:
                section = _Section(role, block.level, implicit=False)
            lines.append(Line(block, True, None, None, outer))
            continue
        if block.kind == PARAGRAPH and is_heading_like(block.text):
            role = _role_of(block.text)
            # A plain short line that excludes a named indication ("統合失調症の方は対象外") is a statement
            # about it, not the title of an exclusion list.
            if role and (role.role != EXCLUSIONS or not assess(block.text).indications):
                depth = stack[-1][0] + 1 if stack else 1
                section = _Section(role, max(depth, _IMPLICIT_LEVEL), implicit=True)
                stack = [entry for entry in stack if entry[0] < _IMPLICIT_LEVEL]
                outer = _path(stack)
                lines.append(Line(block, True, None, None, outer))
                stack.append((_IMPLICIT_LEVEL, block.text))
                path = (*outer, block.text)
                continue
        if block.kind == PARAGRAPH:
            lead_in = list_lead_in(block.text)
            if lead_in is not None:
                if lead_in.role == INDICATIONS and section and section.role.role == INDICATIONS and not section.items:
                    # 「対象疾患」 then 「次のような症状の改善が期待できます。」: the lead-in hedges the list.
                    section.role = HeadingRole(INDICATIONS, min(section.role.level, lead_in.level))
                else:
                    section = _Section(lead_in, _IMPLICIT_LEVEL, implicit=True)
                lines.append(Line(block, False, None, None, path))
                continue
        if section is not None:
            line = _in_section(block, section, path)
            if line is not None:
                lines.append(line)
                continue
            if section.implicit:
                section = None
        lines.append(Line(block, False, None, None, path))
    return lines


def _in_section(block: Block, section: _Section, path: tuple[str, ...]) -> Line | None:
    """The line as an item of the section, or None when it does not belong to the list."""
    role = section.role
    reference = None
    if role.role == REFERENCES:
        reference = parse_reference(block.text, in_references_section=True)
        if reference is None:
            return None
    elif not (block.kind in (ITEM, ROW) or (block.kind == PARAGRAPH and is_short(block.text))):
        return None
    section.items += 1
    implicit = role.level if role.role == INDICATIONS else None
    return Line(block, False, role.role, implicit, path, reference)


def _role_of(text: str) -> HeadingRole | None:
    role = heading_role(text)
    if role is None and exclusion_heading(text):
        return HeadingRole(EXCLUSIONS, 0)
    return role


def _path(stack: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(text for _, text in stack)
