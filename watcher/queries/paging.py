"""Pages of results: ask for one row more than the page to know whether another page follows,
rather than counting every row on every request."""

from __future__ import annotations

from typing import Any

from watcher.errors import InputError

MAX_LIMIT = 500
MAX_OFFSET = 1_000_000


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InputError(f"offset must be between 0 and {MAX_OFFSET}")


def page(rows: list[Any], *, limit: int, offset: int) -> dict[str, Any]:
    """``rows`` holds up to ``limit + 1`` items fetched from ``offset``."""
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if len(rows) > limit else None,
    }
