"""The stored model: clinics, sources, checks, snapshots, text versions, changes, claim profiles, alerts.

Snapshots are immutable captures; text versions are derived from them (and can be re-derived when the
extractor improves); changes and claim profiles are derived from text versions. Alerts are derived from
pairs of claim profiles and are never re-raised by re-derivation.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    exists,
    false,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, column_property, mapped_column, relationship

from watcher.zdicts import DICTIONARIES, HEADERS, PROFILE, TEXT

if sys.version_info >= (3, 14):
    from compression import zstd
else:  # the backport of 3.14's compression.zstd (pyproject.toml)
    from backports import zstd

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class CompactUTCDateTime(UTCDateTime):
    """A ``UTCDateTime`` that SQLite stores as an integer, the microseconds since 1970-01-01 UTC (8 bytes
    instead of 26 characters of text, and compared as numbers); PostgreSQL keeps ``timestamptz`` (8 bytes
    already). For the search index's many small rows (intervals, indication steps: migration 0018),
    whose dates SQL only compares, orders and hands back, never formats."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(BigInteger() if dialect.name == "sqlite" else DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        value = super().process_bind_param(value, dialect)
        if value is None or dialect.name != "sqlite":
            return value
        return (value - EPOCH) // MICROSECOND

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if isinstance(value, int):
            return EPOCH + value * MICROSECOND
        return super().process_result_value(value, dialect)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


class SecondUTCDateTime(UTCDateTime):
    """A ``UTCDateTime`` to the second, floored: SQLite stores the seconds since 1970-01-01 UTC (4 bytes
    until 2038, 6 after, against 8 for ``CompactUTCDateTime``), PostgreSQL a ``timestamptz`` without its
    microseconds. For keys that only order and bound candidates, whose exact dates are read elsewhere
    (``RunPassage.first_seen``: a search's answers are computed from the runs and snapshots)."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        return dialect.type_descriptor(BigInteger() if dialect.name == "sqlite" else DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        value = super().process_bind_param(value, dialect)
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (value - EPOCH) // SECOND
        return value.replace(microsecond=0)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if isinstance(value, int):
            return EPOCH + value * SECOND
        return super().process_result_value(value, dialect)


SECOND = timedelta(seconds=1)


class HexDigest(TypeDecorator[str]):
    """A hex digest (a SHA-256 as ``hashlib`` spells it) stored as its bytes: 32 bytes instead of 64
    characters. For digests only compared in Python (``TextVersion.text_sha256``), never joined in SQL
    to a digest stored as text; every value it reads back is the same lower-case hex."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else bytes.fromhex(value)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else bytes(value).hex()


def utcnow() -> datetime:
    return datetime.now(UTC)


def compact_json(value: Any) -> str:
    """JSON as watcher writes it (the engines' serializer, ``ZlibJSON``): UTF-8 text as it is (a Japanese
    character is 3 bytes, not a 6-byte ``\\uXXXX`` escape) and no spaces after separators."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def deflate(data: bytes, dictionary: int | None) -> bytes:
    """``data`` compressed for a ``ZlibJSON`` or ``ZlibText`` column: a zlib stream without a
    ``dictionary``; with one (a number of ``watcher.zdicts.DICTIONARIES``), that byte then raw deflate
    with the dictionary preset."""
    if dictionary is None:
        return zlib.compress(data, 9)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARIES[dictionary])
    return bytes([dictionary]) + compressor.compress(data) + compressor.flush()


def inflate(value: bytes) -> bytes:
    """The bytes ``deflate`` compressed, whichever kind of row: a zlib stream starts with 0x78, which
    is no dictionary's number, so a row says itself how it was written."""
    preset = DICTIONARIES.get(value[0])
    if preset is None:
        return zlib.decompress(value)
    return zlib.decompressobj(-15, zdict=preset).decompress(value[1:])


class ZlibJSON(TypeDecorator[Any]):
    """A JSON document stored zlib-compressed: for documents only ever read whole in Python (a claim
    profile, a stored diff, a capture's HTTP headers), never queried inside by SQL; a third of a
    profile's JSON text. With a ``dictionary`` (``deflate``): the claim profiles, whose keys and ids
    repeat in every row, take 43 % less again; HTTP headers, whose names and common values repeat, about
    half as much as plain zlib. Either kind of row reads back whatever the column's dictionary."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dictionary: int | None = None) -> None:
        super().__init__()
        self.dictionary = dictionary

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else deflate(compact_json(value).encode("utf-8"), self.dictionary)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(inflate(value))


class ZlibText(TypeDecorator[str]):
    """Text stored zlib-compressed (UTF-8): for text only ever read whole in Python, never filtered or
    searched by SQL (an extracted text: search reads the distinct-passage index); a sixth of its bytes.
    With a ``dictionary`` (``deflate``): the extracted texts with the clinic vocabulary preset, a quarter
    less again on clinic pages. Either kind of row reads back (rows from before migration 0021 are zlib)."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dictionary: int | None = None) -> None:
        super().__init__()
        self.dictionary = dictionary

    def process_bind_param(self, value: str | None, dialect: Dialect) -> bytes | None:
        return None if value is None else deflate(value.encode("utf-8"), self.dictionary)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> str | None:
        return None if value is None else inflate(value).decode("utf-8")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sources: Mapped[list[Source]] = relationship(back_populates="clinic")


class Source(Base):
    """A watched URL: a page, or a site entry point (sitemap or blog index)."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    kind: Mapped[str] = mapped_column(String(8), default="page")  # page | site
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="SET NULL"), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    interval_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    discovered_from_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Validators for conditional requests, from the last good response.
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)
    # Site sources: discovery options (max_depth, max_pages, include/exclude URL patterns).
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Site sources: when links were last discovered. NULL until the first discovery, which is the
    # baseline: the pages it finds are watched without new_page alerts (see watcher.pipeline.discover).
    discovered_at: Mapped[datetime | None] = mapped_column()
    # Fetched by a headless browser (the DOM after scripts ran) rather than as the server's bytes; and
    # a full-page screenshot of each new version (always taken for rendered sources).
    render: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    screenshot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # CSS selectors for the main text ({"select": [...], "drop": [...]}, watcher.extract.Selectors) and
    # their key (Selectors.key; NULL without selectors): its texts are stored under
    # extractor_version(selectors), see watcher.sources.source_extractor_version.
    selectors: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    selectors_key: Mapped[str | None] = mapped_column(String(16))
    # Page requisites (stylesheets, images, scripts) fetched and kept with each new snapshot, so that
    # the WARC export replays the page as it looked (watcher.requisites, watcher.pipeline.requisites).
    requisites: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    clinic: Mapped[Clinic | None] = relationship(back_populates="sources")


class Check(Base):
    """One fetch attempt of a source, whatever came of it."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_source_checked", "source_id", "checked_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # changed|unchanged|not_modified|error|blocked
    http_status: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(String(2048))
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    body_size: Mapped[int | None] = mapped_column(BigInteger)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id", ondelete="SET NULL"))
    # A capture backfilled from a web archive: the archive's capture URL (watcher.backfill); NULL when live.
    archive_url: Mapped[str | None] = mapped_column(String(2048))
    rendered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A static capture that looks like an empty JavaScript shell: why, suggesting --render (watcher.shell).
    hint: Mapped[str | None] = mapped_column(Text)
    # Why the extracted text may have missed the page's article (watcher.extract.Extracted.doubt):
    # empty or a small part of the visible text, or --select matched nothing. NULL: no doubt.
    extraction_doubt: Mapped[str | None] = mapped_column(Text)


class Body(Base):
    """The bytes of one distinct captured body, stored once however many snapshots and requisites have
    them (content addressed by SHA-256): a page flipping A→B→A keeps one copy of A and three snapshots.
    Written with ``store_body(s)``, read with ``raw_bytes``; never updated nor deleted.

    A body may be stored against a ``base`` body (migration 0019): the page's previous body, or for a
    first capture another page of the same site (``watcher.pipeline.record``), as a zstd frame with the
    base's bytes as its prefix: a new version of a real page over 100 KB with one paragraph edited keeps
    2.5 KB instead of 49. The writer names only standalone bodies as bases (one hop: at most two
    decompressions a read)."""

    __tablename__ = "bodies"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    compression: Mapped[str] = mapped_column(String(8), default="zlib")  # zlib | none | zstd (against base)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    base: Mapped[str | None] = mapped_column(ForeignKey("bodies.sha256"))

    base_body: Mapped[Body | None] = relationship(remote_side=[sha256])


class Snapshot(Base):
    """The raw capture of a page when its content changed. Immutable; its bytes are its ``body``."""

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_source_fetched", "source_id", "fetched_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    fetched_at: Mapped[datetime] = mapped_column()
    requested_url: Mapped[str] = mapped_column(String(2048))
    final_url: Mapped[str] = mapped_column(String(2048))
    http_status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(ZlibJSON(HEADERS))  # preset dictionary: watcher.zdicts
    content_type: Mapped[str | None] = mapped_column(String(200))
    encoding: Mapped[str | None] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(ForeignKey("bodies.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # Provenance of a backfilled capture: the web archive's capture URL; NULL for live captures.
    archive_url: Mapped[str | None] = mapped_column(String(2048))

    body: Mapped[Body] = relationship()
    text_version: Mapped[TextVersion | None] = relationship(back_populates="snapshot", uselist=False)
    screenshot: Mapped[Screenshot | None] = relationship(uselist=False, viewonly=True)


class Screenshot(Base):
    """A full-page screenshot of a snapshot's page as the browser showed it: one per snapshot, PNG
    (losslessly compressed already, so stored as it is), identified by its SHA-256."""

    __tablename__ = "screenshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"), unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    taken_at: Mapped[datetime] = mapped_column()
    media_type: Mapped[str] = mapped_column(String(40), default="image/png")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Requisite(Base):
    """One version of a page requisite (a stylesheet, image or script a snapshot's HTML references),
    stored once per URL and content whatever the number of snapshots that used it."""

    __tablename__ = "requisites"
    __table_args__ = (UniqueConstraint("url_sha256", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    url_sha256: Mapped[str] = mapped_column(String(64))  # the URL's SHA-256: a short unique key
    fetched_at: Mapped[datetime] = mapped_column()  # when this content was first fetched
    http_status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(ZlibJSON(HEADERS))  # preset dictionary: watcher.zdicts
    content_type: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(ForeignKey("bodies.sha256"))
    size: Mapped[int] = mapped_column(BigInteger)

    body: Mapped[Body] = relationship()


class SnapshotRequisite(Base):
    """A requisite as fetched with one snapshot (its time); the content row is shared."""

    __tablename__ = "snapshot_requisites"

    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True)
    requisite_id: Mapped[int] = mapped_column(
        ForeignKey("requisites.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    fetched_at: Mapped[datetime] = mapped_column()

    requisite: Mapped[Requisite] = relationship()


def store_body(session: Session, body: bytes) -> str:
    """Keep ``body`` once in ``bodies`` (a no-op when those bytes are kept already, also when another
    transaction adds them at the same time) and return its SHA-256, the key snapshots and requisites
    refer to it by. Standalone, zlib level 6: level 9 and zstandard without a dictionary make HTML bodies
    no smaller (benchmarks/README.md, "Store size")."""
    digest = hashlib.sha256(body).hexdigest()
    store_bodies(session, {digest: body})
    return digest


def store_bodies(
    session: Session,
    bodies: Mapping[str, bytes],
    bases: Mapping[str, str] | None = None,
    known: Mapping[str, bytes] | None = None,
) -> None:
    """``store_body`` for several bodies (by their SHA-256) in one executemany statement. ``bases``
    proposes a base body for some of them (by SHA-256): a standalone stored body whose bytes ``known``
    holds (the page's previous body, loaded with its previous version), or another of ``bodies`` or a
    stored body, read in one query with their bases. A body is stored against its base when that takes
    at most half its standalone bytes (``encode_body_data``). One hop only: a proposed base stored
    against a base of its own is replaced by that one; a body already stored is left as it is."""
    if not bodies:
        return
    known = known or {}
    proposed = {digest: base for digest, base in (bases or {}).items() if digest in bodies and base != digest}
    unknown = {base for base in proposed.values() if base not in known}
    stored = _stored_bodies(session, set(bodies) | unknown) if unknown else {}
    rows = []
    for digest, body in bodies.items():
        if digest in stored:
            continue  # kept already: never rewritten (A→B→A keeps one A)
        base = proposed.get(digest)
        row = stored.get(base) if base is not None else None
        if row is not None and row.base is not None:  # the base has a base: that one is standalone
            base, row = row.base, stored.get(row.base)
        base_bytes = known.get(base) if base is not None else None
        if row is not None and row.base is None:
            base_bytes = decode_body_data(row.compression, row.data, None)
        elif base is not None and row is None and base in bodies and base not in proposed:
            base_bytes = bodies[base]  # a body of this call, stored standalone (its row goes first)
        compression, data = encode_body_data(body, base_bytes)
        rows.append(
            {"sha256": digest, "size": len(body), "compression": compression, "data": data,
             "base": base if compression == DELTA else None}
        )  # fmt: skip
    if not rows:
        return
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.connection().execute(
        insert(cast(Table, Body.__table__)).on_conflict_do_nothing(index_elements=["sha256"]),
        sorted(rows, key=lambda row: row["base"] is not None),  # the bases first: the foreign key
    )


def _stored_bodies(session: Session, digests: set[str]) -> dict[str, Any]:
    """The stored rows of ``digests`` and of their bases, by SHA-256 (one query, without the session's
    autoflush: the part's snapshots wait for these bodies)."""
    table = cast(Table, Body.__table__)
    wanted = sorted(digests)
    their_bases = select(table.c.base).where(table.c.sha256.in_(wanted), table.c.base.is_not(None))
    query = select(table.c.sha256, table.c.base, table.c.compression, table.c.data).where(
        or_(table.c.sha256.in_(wanted), table.c.sha256.in_(their_bases))
    )
    return {row.sha256: row for row in session.connection().execute(query)}


DELTA = "zstd"  # a body stored as a zstd frame whose prefix is its base body's bytes
DELTA_LEVEL = 3
# The prefix and the body within one window that every zstd decompressor accepts without options (128 MiB).
DELTA_WINDOW = 1 << 27


def encode_body_data(body: bytes, base: bytes | None) -> tuple[str, bytes]:
    """How ``body`` is stored: its compression and data. zlib 6 standalone; with ``base`` (a standalone
    body's bytes), a zstd frame (level 3) referring to the base as its prefix when that is at most half
    the standalone bytes. zstd, not deflate with a preset dictionary: deflate reaches back 32 KB only, so
    a new version of a real 50-200 KB page with one paragraph edited kept 97 % of its standalone bytes
    that way, under 5 % with zstd (benchmarks/body_deltas.py). A delta above half (a weak base: another
    page) is not kept: the body stays standalone and becomes the base of its page's next versions. A
    delta under 1/32 of the body is kept without compressing the body alone (HTML does not deflate 16×):
    a page's new version then costs a zstd pass instead of a zlib one, several times faster."""
    if base and len(base) + len(body) <= DELTA_WINDOW:
        delta = _delta(body, base)
        if 32 * len(delta) <= len(body):
            return DELTA, delta
        standalone = zlib.compress(body, 6)
        return (DELTA, delta) if 2 * len(delta) <= len(standalone) else ("zlib", standalone)
    return "zlib", zlib.compress(body, 6)


def _delta(body: bytes, base: bytes) -> bytes:
    """``body`` as a zstd frame with ``base`` as its prefix. The window spans the base and the body, and
    zstd's long-distance matcher is on (as `zstd --patch-from`): without them a level's own window and
    tables miss the base beyond a few MB, and the matcher takes a quarter off real pages of 100 KB;
    below 32 KB it finds less than the level's own (the 4 KB pages of store_size.py: +4 %)."""
    window = len(base) + len(body)
    options: dict[int, int] = {
        zstd.CompressionParameter.compression_level: DELTA_LEVEL,
        zstd.CompressionParameter.window_log: max(10, (window - 1).bit_length()),
        zstd.CompressionParameter.enable_long_distance_matching: int(window >= 1 << 15),
    }
    return zstd.compress(body, options=options, zstd_dict=zstd.ZstdDict(base, is_raw=True).as_prefix)


def decode_body_data(compression: str, data: bytes, base: bytes | None) -> bytes:
    """The bytes a stored body's ``data`` holds (``base``: its base body's bytes, for a delta)."""
    if compression == "zlib":
        return zlib.decompress(data)
    if compression == "none":
        return data
    if compression == DELTA and base is not None:
        return zstd.decompress(data, zstd_dict=zstd.ZstdDict(base, is_raw=True).as_prefix)
    missing = " without its base's bytes" if compression == DELTA else ""
    raise ValueError(f"a stored body in an unknown form: {compression!r}{missing}")


def body_bytes(body: Body) -> bytes:
    """A stored body's bytes: its base's first when it has one (loaded unless loaded with it already)."""
    base = body.base_body
    return decode_body_data(body.compression, body.data, None if base is None else body_bytes(base))


def raw_bytes(item: Snapshot | Requisite) -> bytes:
    """The captured bytes of a snapshot or requisite (its body), decompressed: every reader's accessor."""
    return body_bytes(item.body)


class TextVersion(Base):
    """The main text extracted from a snapshot by one extractor version."""

    __tablename__ = "text_versions"
    __table_args__ = (
        UniqueConstraint("snapshot_id", "extractor_version"),
        # Search reads the distinct-passage index (Passage and after), not every version's text.
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    extractor_version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(ZlibText(TEXT))  # never filtered in SQL: search reads the passage index
    text_sha256: Mapped[str] = mapped_column(HexDigest())  # its 32 bytes: migration 0021
    # The extraction's doubt (as on Check.extraction_doubt), kept with the text it is about.
    extraction_doubt: Mapped[str | None] = mapped_column(Text)
    # Only written and handed back, never formatted in SQL: an integer on SQLite (migration 0021).
    created_at: Mapped[datetime] = mapped_column(CompactUTCDateTime(), default=utcnow)

    snapshot: Mapped[Snapshot] = relationship(back_populates="text_version")


class Change(Base):
    """The diff between two consecutive comparable text versions of a source."""

    __tablename__ = "changes"
    __table_args__ = (UniqueConstraint("old_version_id", "new_version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    old_version_id: Mapped[int] = mapped_column(ForeignKey("text_versions.id", ondelete="CASCADE"))
    new_version_id: Mapped[int] = mapped_column(ForeignKey("text_versions.id", ondelete="CASCADE"))
    inserted_chars: Mapped[int] = mapped_column(Integer)
    deleted_chars: Mapped[int] = mapped_column(Integer)
    ops: Mapped[list[Any]] = mapped_column(ZlibJSON())
    diff_seconds: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimProfileRecord(Base):
    """The claim analyser's profile of one text version, for one analyser version."""

    __tablename__ = "claim_profiles"
    __table_args__ = (UniqueConstraint("text_version_id", "analyser_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_version_id: Mapped[int] = mapped_column(ForeignKey("text_versions.id", ondelete="CASCADE"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    analyser_version: Mapped[str] = mapped_column(String(40))
    profile: Mapped[dict[str, Any]] = mapped_column(ZlibJSON(PROFILE))  # preset dictionary: watcher.zdicts
    # Denormalised {indication id: strength} so that timelines need not parse whole profiles.
    indications: Mapped[dict[str, Any]] = mapped_column()
    reference_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """A finding worth telling someone. One row per distinct transition per source (see watcher.pipeline.alerts)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("source_id", "dedupe_key"),
        Index("ix_alerts_detected", "detected_at"),
        Index("ix_alerts_new_fetched", "new_fetched_at", "id"),  # listings are ordered by capture date
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    indication: Mapped[str | None] = mapped_column(String(80), index=True)
    reference: Mapped[str | None] = mapped_column(Text)
    strength_before: Mapped[int | None] = mapped_column(Integer)
    strength_after: Mapped[int | None] = mapped_column(Integer)
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    old_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id", ondelete="SET NULL"))
    new_snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    old_fetched_at: Mapped[datetime | None] = mapped_column()
    new_fetched_at: Mapped[datetime] = mapped_column()
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    dedupe_key: Mapped[str] = mapped_column(String(400))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    last_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id", ondelete="SET NULL"))
    last_detected_at: Mapped[datetime | None] = mapped_column()
    details: Mapped[dict[str, Any]] = mapped_column()
    # Triage (API/dashboard): who acknowledged the alert and when; NULL while open.
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    # Guideline categories of the finding (watcher.claims.regulation) as ",id,id,", so that a subscription's
    # category filter is one portable LIKE; NULL on alerts raised before analyser 1.3.0.
    categories: Mapped[str | None] = mapped_column(String(400))
    # Raised by a capture from a web archive (``watcher backfill``): history, never mailed nor in the feeds.
    from_archive: Mapped[bool] = column_property(
        exists().where(Snapshot.id == new_snapshot_id, Snapshot.archive_url.is_not(None))
    )


class Subscription(Base):
    """Someone to tell about alerts: filters, and immediate or daily-digest delivery."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    mode: Mapped[str] = mapped_column(String(16), default="immediate")  # immediate | daily
    # Filters; an empty list means "any".
    clinic_ids: Mapped[list[Any]] = mapped_column(default=list)
    source_ids: Mapped[list[Any]] = mapped_column(default=list)
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    indications: Mapped[list[Any]] = mapped_column(default=list)
    categories: Mapped[list[Any]] = mapped_column(default=list)  # guideline categories (issue 19)
    min_severity: Mapped[str] = mapped_column(String(8), default="low")
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One message in the outbox: an immediate alert mail or a digest, and its sending attempts."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # immediate | digest
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class DeliveryItem(Base):
    """An alert inside a delivery; unique per subscription so that no alert is mailed twice."""

    __tablename__ = "delivery_items"
    __table_args__ = (UniqueConstraint("subscription_id", "alert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)


class AlertTriage(Base):
    """One triage action on an alert, from the dashboard: who did what, when, with an optional note.

    Append-only: an alert's triage state is its latest action (``reopen`` makes it open again).
    """

    __tablename__ = "alert_triage"
    __table_args__ = (
        CheckConstraint("action IN ('acknowledge', 'false_positive', 'note', 'reopen')", name="action"),
        Index("ix_alert_triage_alert_latest", "alert_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HostTurn(Base):
    """Politeness across the queue's workers (``watcher.queue``): per host, when its last crawl ended
    (database time) and whether one is going on. A host's jobs never run at once (a queue lock per
    host); this row makes the next one wait the download delay after the previous one, whichever
    machine ran it."""

    __tablename__ = "host_turns"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    last_request_at: Mapped[datetime | None] = mapped_column()
    busy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


BLOCK_SLOTS = 256  # passages per block at most: a passage's id is its block's id * BLOCK_SLOTS + its slot
BLOCK_LEVEL = 9  # zstd level of a block's text (SQLite): written once, read by searches of it


def encode_block(lines: list[str], dialect_name: str) -> bytes | str:
    """How a block's passages are stored: their lines joined by line breaks (a passage never holds
    one), as text on PostgreSQL (TOAST compresses it), zstd-compressed UTF-8 on SQLite."""
    return _encode_block_text("\n".join(lines), dialect_name)


def _encode_block_text(joined: str, dialect_name: str) -> bytes | str:
    return joined if dialect_name == "postgresql" else zstd.compress(joined.encode("utf-8"), level=BLOCK_LEVEL)


def block_text(value: bytes | str) -> str:
    """A stored block's lines joined by line breaks, as ``encode_block`` joined them."""
    return value if isinstance(value, str) else zstd.decompress(value).decode("utf-8")


def decode_block(value: bytes | str) -> list[str]:
    """A stored block's passages (``encode_block``), slot by slot."""
    return block_text(value).split("\n")


class BlockText(TypeDecorator[str]):
    """A block's text as ``encode_block`` stores it: text on PostgreSQL, compressed bytes on SQLite.
    Reads give the joined text (``decode_block`` splits it)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        # Text itself on PostgreSQL: the driver's descriptor of Text compiles as VARCHAR, which schema
        # comparisons take for another type than the TEXT column migration 0020 creates.
        return dialect.type_descriptor(LargeBinary()) if dialect.name == "sqlite" else Text()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else _encode_block_text(value, dialect.name)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else block_text(value)


class PassageBlock(Base):
    """Distinct lines (paragraphs, headings, list items) of extracted text, stored once whatever the
    number of versions and pages that show them, up to ``BLOCK_SLOTS`` together: the new lines of one
    write, in order. Passage ``id`` is ``block id * BLOCK_SLOTS + slot``. Searches look the block up by
    its one- and two-character terms (posting lists per block, invisible to the metadata: a GIN
    expression index over ``watcher_short_terms(text)`` on PostgreSQL, a contentless FTS5 table on
    SQLite; migration 0020, watcher.search_index) and then find the lines holding the term in its text."""

    __tablename__ = "passage_blocks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(BlockText())


class Passage(Base):
    """Where a distinct line is stored: ``key``, the first 8 bytes of the SHA-256 of its text as a signed
    integer, or the next free one if another line holds it (watcher.pipeline.passages), and its ``id``
    (block and slot). Only the write path reads it, to find a line already stored."""

    __tablename__ = "passages"
    __table_args__ = ({"sqlite_with_rowid": False},)

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column(BigInteger)


class PassageRun(Base):
    """Passages that one source showed over the same consecutive versions: first and last snapshot
    showing them, how many versions, and the snapshot that dropped them (NULL: still there). Every line
    of a page's first version is in one run; a version that drops some of a run's lines splits them off
    into a closed run; its new lines start a run of their own. So each (passage, source, stretch of
    versions) interval is one membership (``RunPassage``) of a run, and a run's dates are stored once for
    all its lines. ``passages`` holds its passage ids (``pack_ids``) for the write path."""

    __tablename__ = "passage_runs"
    __table_args__ = (Index("ix_passage_runs_source_gone", "source_id", "gone_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    first_snapshot_id: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(CompactUTCDateTime())
    last_snapshot_id: Mapped[int] = mapped_column(Integer)
    last_seen: Mapped[datetime] = mapped_column(CompactUTCDateTime())
    versions: Mapped[int] = mapped_column(Integer)
    gone_snapshot_id: Mapped[int | None] = mapped_column(Integer)
    gone_at: Mapped[datetime | None] = mapped_column(CompactUTCDateTime())
    passages: Mapped[bytes] = mapped_column(LargeBinary)


class RunPassage(Base):
    """A passage's membership of a run: one interval of the passage on the run's source. Keyed by passage
    first, with the run's source and first capture time (to the second: 4 bytes instead of 8 on SQLite;
    a search's answers take the exact dates from the runs): a search goes from the passages it matches to
    the pages showing them, in order of first appearance, by this key alone (SQLite: WITHOUT ROWID, the
    rows in that order; PostgreSQL: an index-only scan), and to the runs only for the page of answers.
    No foreign key on ``run_id``: the key cannot serve its checks (the write path removes a run's
    memberships itself)."""

    __tablename__ = "run_passages"
    __table_args__ = (
        PrimaryKeyConstraint("passage_id", "source_id", "first_seen", "run_id"),
        {"sqlite_with_rowid": False},
    )

    passage_id: Mapped[int] = mapped_column(BigInteger, autoincrement=False)
    source_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    first_seen: Mapped[datetime] = mapped_column(SecondUTCDateTime())  # the run's, to the second
    run_id: Mapped[int] = mapped_column(Integer, autoincrement=False)


def pack_ids(ids: Iterable[int]) -> bytes:
    """Distinct non-negative integers as bytes: sorted, each the difference from the one before as a
    LEB128 varint (a run's passage ids: one or two bytes each)."""
    out = bytearray()
    previous = 0
    for value in sorted(ids):
        delta, previous = value - previous, value
        while delta >= 0x80:
            out.append((delta & 0x7F) | 0x80)
            delta >>= 7
        out.append(delta)
    return bytes(out)


def unpack_ids(data: bytes) -> list[int]:
    """``pack_ids``' integers, in ascending order."""
    ids: list[int] = []
    value = shift = previous = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        previous += value
        ids.append(previous)
        value = shift = 0
    return ids


class PassageIndexState(Base):
    """How far a source's passages (and indication steps) are indexed: its newest text version indexed,
    its number of versions (snapshots with text) and its newest claim profile. ``watcher reindex``
    rebuilds the sources whose state is stale."""

    __tablename__ = "passage_index_state"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    last_text_version_id: Mapped[int] = mapped_column(Integer)
    last_snapshot_id: Mapped[int] = mapped_column(Integer)
    last_fetched_at: Mapped[datetime] = mapped_column()
    versions: Mapped[int] = mapped_column(Integer)
    last_profile_id: Mapped[int | None] = mapped_column(Integer)


class IndicationStep(Base):
    """A change of a page's claimed strength for one indication (0: not claimed), with the page's
    version before: the claim timelines of one indication read these instead of every profile
    (watcher.pipeline.claim_steps keeps them; the current analyser and extractor versions). Named by
    (indication, capture time, snapshot) — a snapshot is one page's, so one step per indication —, the
    order the timelines of one indication read them in: SQLite keeps the rows in that order (WITHOUT
    ROWID), so that those timelines read one contiguous range (migration 0018)."""

    __tablename__ = "indication_steps"
    __table_args__ = (
        PrimaryKeyConstraint("indication", "fetched_at", "snapshot_id"),
        {"sqlite_with_rowid": False},
    )

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    indication: Mapped[str] = mapped_column(String(80))
    snapshot_id: Mapped[int] = mapped_column(Integer, autoincrement=False)
    fetched_at: Mapped[datetime] = mapped_column(CompactUTCDateTime())
    strength: Mapped[int] = mapped_column(Integer)
    previous_snapshot_id: Mapped[int | None] = mapped_column(Integer)
    previous_fetched_at: Mapped[datetime | None] = mapped_column(CompactUTCDateTime())


# Alert listings compute Alert.from_archive for every row they show; PostgreSQL plans that EXISTS as one
# hashed set of the archived snapshots, which without this index is a scan of every snapshot.
Index(
    "ix_snapshots_archived",
    Snapshot.id,
    postgresql_where=Snapshot.archive_url.is_not(None),
    sqlite_where=Snapshot.archive_url.is_not(None),
)
