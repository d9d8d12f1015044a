"""What the crawl hands to the pipeline: one ``Capture`` per fetch attempt of a ``FetchTarget``.

These are plain data, serialised as JSON lines between the crawl subprocess and the parent, so the
spider never touches the database and the pipeline never touches the network.
"""

from __future__ import annotations

import hashlib
import json
from binascii import a2b_base64, b2a_base64
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

MAX_MESSAGE_CHARS = 300


def one_line(text: str) -> str:
    """An error message on one line of at most ``MAX_MESSAGE_CHARS`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE_CHARS else flat[: MAX_MESSAGE_CHARS - 1] + "…"


def sha256_hex(data: bytes) -> str:
    """The SHA-256 that identifies captured bytes and extracted texts."""
    return hashlib.sha256(data).hexdigest()


def _shallow_dict(instance: FetchTarget | Capture) -> dict[str, Any]:
    """A dataclass's fields by name, in order (what ``asdict`` gives, without its recursion and deep
    copies: they were a third of a Capture line's cost and most of the parent's Python per target).
    The names and their getter are the class's, made once: ``fields()`` and a ``getattr`` per field
    were two Python calls a field at every line of the protocol, both ways."""
    cls = type(instance)
    names, values = _FIELDS.get(cls) or _fields_of(cls)
    return dict(zip(names, values(instance), strict=True))


_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    names = tuple(f.name for f in fields(cls))
    known = _FIELDS[cls] = (names, attrgetter(*names))
    return known


@dataclass(frozen=True, kw_only=True)
class FetchTarget:
    source_id: int
    url: str
    etag: str | None = None
    last_modified: str | None = None
    render: bool = False  # fetch through the headless browser: the DOM after its scripts ran
    screenshot: bool = False  # a full-page screenshot too (implied by render)

    @property
    def needs_browser(self) -> bool:
        return self.render or self.screenshot

    def to_json(self) -> str:
        return json.dumps(_shallow_dict(self))

    @classmethod
    def from_json(cls, line: str) -> FetchTarget:
        return cls(**json.loads(line))


@dataclass(frozen=True, kw_only=True)
class Capture:
    """The result of fetching one target.

    ``error_kind`` is set when no usable response arrived: ``timeout``, ``dns``, ``connection``,
    ``refused_address`` (private/loopback guard), ``robots`` (disallowed by robots.txt),
    ``too_large`` (over WATCHER_MAX_BODY_BYTES), ``too_many_redirects``, ``tls``, ``render_timeout``
    and ``render_failed`` (the headless browser hung, crashed or failed), ``crawl_failed`` (the crawl
    process died or stalled), ``record_failed`` (the fetch arrived but could not be recorded: the error of
    a bug, kept on the check; ``watcher.pipeline.record.unrecordable``), ``other``.
    An HTTP error status is not an error_kind: it arrives as a response with its status and body.
    ``archive_url`` is set on a capture backfilled from a web archive (the archive's capture URL):
    ``fetched_at`` is then the archive's capture time, not the time watcher fetched it.
    """

    source_id: int
    requested_url: str
    final_url: str
    fetched_at: datetime
    duration_ms: int
    status: int | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)
    error_kind: str | None = None
    error: str | None = None
    archive_url: str | None = None
    rendered: bool = False  # the body is the browser's DOM after scripts ran, not the server's bytes
    screenshot: bytes = b""  # a full-page PNG, when the target asked for one

    @classmethod
    def failed(cls, target: FetchTarget, *, kind: str, error: str) -> Capture:
        """A capture of ``target`` that never got a response (no request could be made, or the crawl died)."""
        return cls(
            source_id=target.source_id,
            requested_url=target.url,
            final_url=target.url,
            fetched_at=datetime.now(UTC),
            duration_ms=0,
            error_kind=kind,
            error=one_line(error),
        )

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        for key, values in self.headers.items():
            if key.lower() == wanted and values:
                return values[-1]
        return None

    def to_json(self) -> str:
        data = _shallow_dict(self)
        data["fetched_at"] = self.fetched_at.isoformat()
        # binascii: what base64.b64encode and b64decode call, without their wrappers (a call each way).
        data["body"] = b2a_base64(self.body, newline=False).decode("ascii")
        data["screenshot"] = b2a_base64(self.screenshot, newline=False).decode("ascii")
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Capture:
        data = json.loads(line)
        data["fetched_at"] = datetime.fromisoformat(data["fetched_at"])
        data["body"] = a2b_base64(data["body"])
        data["screenshot"] = a2b_base64(data.get("screenshot", ""))
        return cls(**data)
