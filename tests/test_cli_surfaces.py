"""Small CLI surfaces: columns that stay aligned with Japanese clinic names, `db current --json`."""

from __future__ import annotations

import unicodedata

from watcher.db import Store
from watcher.sources import SourceSpec, add_sources


def _cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def test_sources_list_columns_and_db_current_json(store: Store, run_cli) -> None:  # type: ignore[no-untyped-def]
    with store.session() as session:
        add_sources(
            session,
            [
                SourceSpec(url="https://a.example/p", clinic="あおばこころのクリニック"),
                SourceSpec(url="https://b.example/p", clinic="Birch"),
                SourceSpec(url="https://c.example/p"),
            ],
        )
    lines = run_cli("sources", "list").out.splitlines()
    starts = {_cells(line[: line.index("https://")]) for line in lines}
    assert len(lines) == 3 and len(starts) == 1, lines  # the URLs start in one column on a terminal
    data = run_cli("db", "current", "--json").json()
    assert data["current"] == data["head"] and data["up_to_date"] is True
