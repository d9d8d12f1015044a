"""The dates users type: ``2026-03-01`` or an ISO 8601 timestamp; UTC unless an offset is given.

A bare date means the start of that day for lower bounds (``--since``) and the end of that day for
upper bounds (``--until``, ``--at``): "until 1 March" and "as it was on 1 March" include 1 March.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from watcher.errors import InputError

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The last instant of a day that every backend stores exactly (microseconds).
_END_OF_DAY = timedelta(days=1) - timedelta(microseconds=1)


def parse_when(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """Parse a user date; ``end_of_day`` moves a bare date to its last microsecond."""
    if text is None:
        return None
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(f"invalid date {text!r}: use YYYY-MM-DD or an ISO 8601 timestamp") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if end_of_day and _DATE_ONLY.match(raw):
        value = value + _END_OF_DAY
    return value.astimezone(UTC)


def check_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise InputError(f"the range is empty: since {since.isoformat()} is after until {until.isoformat()}")
