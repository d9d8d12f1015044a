"""Read-only queries over the stored history, shared by the CLI, the JSON API and the dashboard.

Each function takes a session first and returns plain, JSON-ready data (dicts, lists, ISO dates),
so that every front end shows the same thing. One concern per module:

- ``dates``     parsing the dates users type (``--since``, ``--until``, ``--at``, API parameters).
- ``clinics``   clinics by id or name.
- ``timeline``  a source's checks and snapshots with the claims and alerts of each version; the
                text in force at a date.
- ``sources``   sources by page; one source with the size of its history.
- ``snapshots`` one snapshot's metadata, text and raw bytes; paged checks and snapshots.
- ``alerts``    filtered, paged alert listings; one alert; acknowledging one (the only write here).
- ``claims``    claim timelines per clinic × indication, and who claims what now.
- ``overview``  the overview's rows, a clinic's counts over time and time range, the alerts behind the matrix.
- ``versions``  one version among its source's: neighbours, stored profile, alerts raised at it, and the
                claim findings between two versions (from the stored profiles).
- ``paging``    ``limit``/``offset`` checks and pages with ``next_offset``.

Full-text search lives in ``watcher.search``; diffs in ``watcher.history.diff_versions``.
"""
