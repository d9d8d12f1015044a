"""Words for findings and alerts, pure: the strength ladder's names and the one-line description
that the CLI (``watcher compare``, ``watcher alerts``), the demo, mails and the dashboard print."""

from __future__ import annotations

from typing import Any

STRENGTH_WORDS = {0: "none", 1: "possible", 2: "expected", 3: "asserted", 4: "proven"}


def describe_alert(alert: dict[str, Any]) -> str:
    """One line for a finding or alert: severity, kind, subject and, for claims, the strength step."""
    subject = alert.get("indication") or alert.get("reference") or ""
    line = f"[{alert['severity']}] {alert['kind']}"
    if subject:
        line += f": {subject}"
    before, after = alert.get("strength_before"), alert.get("strength_after")
    if alert.get("indication") and (isinstance(before, int) or isinstance(after, int)):
        # 0 (named but negated or excluded) reads as "not claimed", like None, everywhere.
        b = STRENGTH_WORDS.get(before, "?") if isinstance(before, int) and before else "not claimed"
        a = STRENGTH_WORDS.get(after, "?") if isinstance(after, int) and after else "not claimed"
        line += f" ({b} → {a})"
    return line
