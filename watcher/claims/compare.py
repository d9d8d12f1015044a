"""Differences between two claim profiles: the findings that may become alerts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from watcher.claims.profile import (
    RECRUITMENT,
    SAFETY,
    SUPERLATIVE,
    TESTIMONIAL,
    ClaimProfile,
    IndicationClaim,
    Marker,
    TreatmentClaim,
    analyze,
)
from watcher.claims.references import Reference
from watcher.claims.regulation import MISSING_DISCLOSURE, finding_categories

NEW_INDICATION = "new_indication"
CLAIM_STRENGTHENED = "claim_strengthened"
REFERENCE_REMOVED = "reference_removed"
CLAIM_WEAKENED = "claim_weakened"
INDICATION_REMOVED = "indication_removed"
REFERENCE_ADDED = "reference_added"
CAVEAT_REMOVED = "caveat_removed"
SAFETY_CLAIM_ADDED = "safety_claim_added"
TESTIMONIAL_ADDED = "testimonial_added"
SUPERLATIVE_ADDED = "superlative_added"
TRIAL_OR_MONITOR_RECRUITMENT = "trial_or_monitor_recruitment"
DISCLOSURE_REMOVED = "disclosure_removed"

KINDS = (
    NEW_INDICATION,
    CLAIM_STRENGTHENED,
    REFERENCE_REMOVED,
    SAFETY_CLAIM_ADDED,
    CAVEAT_REMOVED,
    DISCLOSURE_REMOVED,
    TESTIMONIAL_ADDED,
    SUPERLATIVE_ADDED,
    TRIAL_OR_MONITOR_RECRUITMENT,
    CLAIM_WEAKENED,
    INDICATION_REMOVED,
    REFERENCE_ADDED,
)
SEVERITIES = ("high", "medium", "low")
_TYPO_MIN_LENGTH = 5
_TYPO_PREFIX = 3

_MARKER_KIND_OF_FINDING = {
    SAFETY_CLAIM_ADDED: SAFETY,
    TESTIMONIAL_ADDED: TESTIMONIAL,
    SUPERLATIVE_ADDED: SUPERLATIVE,
    TRIAL_OR_MONITOR_RECRUITMENT: RECRUITMENT,
}
_MARKER_FINDINGS = {
    TESTIMONIAL: TESTIMONIAL_ADDED,
    SUPERLATIVE: SUPERLATIVE_ADDED,
    RECRUITMENT: TRIAL_OR_MONITOR_RECRUITMENT,
}


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    severity: str
    indication: str | None = None  # canonical indication id
    reference: str | None = None  # display text of the reference
    reference_key: str | None = None
    group: str | None = None  # caveat or marker group (individual_variation, no_side_effects, monitor, ...)
    strength_before: int | None = None
    strength_after: int | None = None
    before: str | None = None  # evidence sentence in the old text
    after: str | None = None  # evidence sentence in the new text
    treatments: tuple[str, ...] = ()
    cue_before: str | None = None  # the cue(s) that decided strength_before: "may help, capped by may"
    cue_after: str | None = None  # the cue(s) that decided strength_after: "FDA-cleared", 「改善 + 有意」
    categories: tuple[str, ...] = ()  # guideline categories it may fall under (watcher.claims.regulation)

    def key(self) -> str:
        """A stable identity: the same change found twice gives the same key."""
        subject = self.indication or self.reference_key or self.group or ""
        after = "" if self.strength_after is None else str(self.strength_after)
        return f"{self.kind}:{subject}:{after}"

    def to_dict(self) -> dict[str, Any]:
        # Every field is a plain value or a tuple of strings: a shallow copy, not asdict's deep one.
        data = {name: getattr(self, name) for name in _FINDING_FIELDS}
        data["treatments"] = list(self.treatments)
        data["categories"] = list(self.categories)
        data["key"] = self.key()
        return data


_FINDING_FIELDS = tuple(field.name for field in fields(Finding))


def compare(old: ClaimProfile, new: ClaimProfile) -> list[Finding]:
    """Findings from ``old`` to ``new``, most severe first, in a deterministic order."""
    findings = [
        *_indication_findings(old, new),
        *_reference_findings(old, new),
        *_caveat_findings(old, new),
        *_safety_findings(old, new),
        *_marker_findings(old, new),
        *_disclosure_findings(old, new),
    ]
    return sorted((_categorised(finding, new) for finding in findings), key=_order)


def compare_texts(old_text: str, new_text: str, lang: str | None = None) -> list[Finding]:
    return compare(analyze(old_text, lang), analyze(new_text, lang))


def _order(finding: Finding) -> tuple[int, int, str, str, str, int]:
    return (
        SEVERITIES.index(finding.severity),
        KINDS.index(finding.kind),
        finding.indication or "",
        finding.reference_key or "",
        finding.group or "",
        -1 if finding.strength_after is None else finding.strength_after,
    )


def _indication_findings(old: ClaimProfile, new: ClaimProfile) -> Iterable[Finding]:
    for indication in sorted(set(old.indications) | set(new.indications)):
        before = old.indications.get(indication)
        after = new.indications.get(indication)
        if after and not before:
            # Reported once: a first claim is a new indication, never also a strengthening.
            excluded_before = old.excluded.get(indication, ())
            yield Finding(
                NEW_INDICATION,
                "high" if after.strength >= 2 else "medium",
                indication=indication,
                strength_before=0 if indication in old.excluded or indication in old.mentioned else None,
                strength_after=after.strength,
                before=excluded_before[0] if excluded_before else None,
                after=after.evidence[0],
                treatments=after.treatments,
                cue_after=after.cue,
            )
        elif before and not after:
            # Still named (negated, excluded, only in a mechanism sentence): the claim fell to 0.
            # Not named at all: the indication left the page.
            excluded_after = new.excluded.get(indication, ())
            still_named = indication in new.excluded or indication in new.mentioned
            yield Finding(
                CLAIM_WEAKENED if still_named else INDICATION_REMOVED,
                "low",
                indication=indication,
                strength_before=before.strength,
                strength_after=0,
                before=before.evidence[0],
                after=excluded_after[0] if excluded_after else None,
                treatments=before.treatments,
                cue_before=before.cue,
            )
        elif before and after:
            yield from _changed(before, after)


def _changed(before: IndicationClaim, after: IndicationClaim) -> Iterable[Finding]:
    """A rise of the page maximum, else of any claim aligned across the versions (the same treatment, or
    the same lack of one): 「ADHDに対するTMSの効果」 may keep the maximum at 3 while the exosome claim rises
    from 1 to 3 further down. A fall is reported on the page maximum only."""
    rise = _strongest_rise(before, after)
    if rise is not None:
        old_claim, new_claim = rise
        yield Finding(
            CLAIM_STRENGTHENED,
            "high" if new_claim.strength >= 3 else "medium",
            indication=after.indication,
            strength_before=old_claim.strength,
            strength_after=new_claim.strength,
            before=old_claim.evidence,
            after=new_claim.evidence,
            treatments=new_claim.treatments or after.treatments,
            cue_before=old_claim.cue,
            cue_after=new_claim.cue,
        )
    elif after.strength < before.strength and not _typo_fix(before.evidence, after.evidence):
        yield Finding(
            CLAIM_WEAKENED,
            "low",
            indication=after.indication,
            strength_before=before.strength,
            strength_after=after.strength,
            before=before.evidence[0],
            after=after.evidence[0],
            treatments=after.treatments,
            cue_before=before.cue,
            cue_after=after.cue,
        )


def _strongest_rise(before: IndicationClaim, after: IndicationClaim) -> tuple[TreatmentClaim, TreatmentClaim] | None:
    page_before = TreatmentClaim(before.treatments, before.strength, before.evidence[0], before.cue)
    page_after = TreatmentClaim(after.treatments, after.strength, after.evidence[0], after.cue)
    rises = [(page_before, page_after)] if after.strength > before.strength else []
    for new_claim in after.claims:
        old_claim = before.claim_of(new_claim.treatments)
        if old_claim is not None and new_claim.strength > old_claim.strength:
            rises.append((old_claim, new_claim))
    rises = [(old, new) for old, new in rises if not _typo_fix((old.evidence,), (new.evidence,))]
    return max(rises, key=lambda pair: (pair[1].strength, pair[1].strength - pair[0].strength), default=None)


def _typo_fix(old_sentences: tuple[str, ...], new_sentences: tuple[str, ...]) -> bool:
    """The strongest sentences differ by one mistyped English word ("expectd" → "expected"): the cue
    was unreadable before, the claim did not change."""
    return any(_one_word_typo(old, new) for old in old_sentences for new in new_sentences)


def _one_word_typo(old: str, new: str) -> bool:
    old_words, new_words = old.split(), new.split()
    if len(old_words) != len(new_words) or old == new:
        return False
    changed = [(a, b) for a, b in zip(old_words, new_words, strict=True) if a != b]
    if len(changed) != 1:
        return False
    a, b = (word.strip(".,;:!?\"'()").lower() for word in changed[0])
    return (
        a.isascii()
        and b.isascii()
        and min(len(a), len(b)) >= _TYPO_MIN_LENGTH
        and a[:_TYPO_PREFIX] == b[:_TYPO_PREFIX]
        and _edit_distance(a, b) == 1
    )


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _reference_findings(old: ClaimProfile, new: ClaimProfile) -> Iterable[Finding]:
    old_references = list(old.references.values())
    new_references = list(new.references.values())
    for reference in old_references:
        if not _matched(reference, new_references):
            yield Finding(
                REFERENCE_REMOVED,
                "high" if not new_references else "medium",
                reference=reference.text,
                reference_key=reference.key,
                before=reference.text,
            )
    for reference in new_references:
        if not _matched(reference, old_references):
            yield Finding(
                REFERENCE_ADDED, "low", reference=reference.text, reference_key=reference.key, after=reference.text
            )


def _matched(reference: Reference, others: list[Reference]) -> bool:
    return any(reference.same_as(other) for other in others)


def _caveat_findings(old: ClaimProfile, new: ClaimProfile) -> Iterable[Finding]:
    remaining = {caveat.group for caveat in new.caveats}
    reported: set[str] = set()
    for caveat in old.caveats:
        if caveat.group not in remaining and caveat.group not in reported:
            reported.add(caveat.group)
            yield Finding(CAVEAT_REMOVED, "medium", group=caveat.group, before=caveat.text)


def _safety_findings(old: ClaimProfile, new: ClaimProfile) -> Iterable[Finding]:
    """One finding when the page's strongest safety claim appears or becomes absolute."""
    before = _strongest(old.safety_claims)
    after = _strongest(new.safety_claims)
    if after is None or (before is not None and (after.level or 0) <= (before.level or 0)):
        return
    yield Finding(
        SAFETY_CLAIM_ADDED,
        "high" if (after.level or 0) >= 2 else "medium",
        group=after.group,
        strength_before=before.level if before else None,
        strength_after=after.level,
        before=before.text if before else None,
        after=after.text,
    )


def _strongest(markers: tuple[Marker, ...]) -> Marker | None:
    strongest: Marker | None = None
    for marker in markers:
        if strongest is None or (marker.level or 0) > (strongest.level or 0):
            strongest = marker
    return strongest


def _marker_findings(old: ClaimProfile, new: ClaimProfile) -> Iterable[Finding]:
    """A testimonial, superlative or recruitment group that the old text did not have."""
    for kind, finding_kind in _MARKER_FINDINGS.items():
        known = {marker.group for marker in old.markers_of(kind)}
        for marker in new.markers_of(kind):
            if marker.group not in known:
                known.add(marker.group)
                yield Finding(finding_kind, "medium", group=marker.group, after=marker.text)


def _disclosure_findings(old: ClaimProfile, new: ClaimProfile) -> Iterable[Finding]:
    """A required disclosure item that the old text stated and the new one, which still requires it, lacks.
    An item missing from the start is a state of the page (``ClaimProfile.disclosures.missing``), not news."""
    for item in new.disclosures.missing:
        before = old.disclosures.present.get(item)
        if before is not None:
            yield Finding(DISCLOSURE_REMOVED, "medium", group=item, before=before, categories=(MISSING_DISCLOSURE,))


def _categorised(finding: Finding, new: ClaimProfile) -> Finding:
    if finding.categories:
        return finding
    kind = _MARKER_KIND_OF_FINDING.get(finding.kind)
    marker = (kind, finding.group or "", finding.strength_after) if kind else None
    categories = finding_categories(
        sentence=finding.after,
        treatments=finding.treatments,
        strength=None if kind else finding.strength_after,
        marker=marker,
        page=new.categories,
    )
    return replace(finding, categories=categories) if categories else finding
