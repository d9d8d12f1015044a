"""HTTP dates (RFC 9110 §5.6.7) and ``Retry-After`` values, read one way for the whole project: the
crawl's retry backoff, the web-archive client and the demo site's conditional requests."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_http_date(value: bytes | str | None) -> datetime | None:
    """An HTTP date as an aware UTC datetime; None when absent or not a date (a date without a zone is UTC)."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def retry_after_seconds(value: bytes | str | None, *, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (delta-seconds or an HTTP date) as seconds from now (never negative);
    None when absent or unreadable."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    when = parse_http_date(text)
    if when is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
