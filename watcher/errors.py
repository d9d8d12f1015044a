"""The one hierarchy of errors that watcher raises on purpose.

    WatcherError                 anything the user can act on; printed as one line, exit status 2
    ├── ConfigError              a WATCHER_* setting is missing or malformed
    ├── InputError               a bad CLI argument, URL, file, interval or id
    │   └── NotFoundError        a source, snapshot or version that does not exist
    ├── DuplicateError           the thing already exists (a source URL)
    ├── StoreError               the database cannot be reached or migrated
    └── FetchError               one fetch failed; ``transient`` says whether a retry may help
        └── RefusedAddressError  the URL resolves to a private or loopback address (never transient)

Fetch errors never escape ``watcher check``: the pipeline records them as failed checks. Those of a
web archive stop ``watcher backfill`` (what was recorded stays; the next run resumes). Every
other error reaches ``watcher.cli.main``, the one place that turns it into a message and an exit code.
"""

from __future__ import annotations


class WatcherError(Exception):
    """Base class; ``str(error)`` is the one-line message shown to the user."""

    transient: bool = False


class ConfigError(WatcherError):
    pass


class InputError(WatcherError):
    pass


class NotFoundError(InputError):
    pass


class DuplicateError(WatcherError):
    pass


class StoreError(WatcherError):
    transient = True


class FetchError(WatcherError):
    def __init__(self, message: str, *, kind: str, transient: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.transient = transient


class RefusedAddressError(FetchError):
    def __init__(self, message: str) -> None:
        super().__init__(message, kind="refused_address", transient=False)
