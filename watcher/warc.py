"""WARC 1.1 out and in: the stored captures as an archive file, and archives as history.

Writing (``write_warc``): one ``warcinfo`` record, then per snapshot a ``response`` record (the HTTP
status line and headers as recorded, and the raw bytes kept for the snapshot) and a ``request``
record (``WARC-Concurrent-To`` the response), and for a version with a screenshot a ``resource``
record (``urn:screenshot:`` + the URL, ``image/png``, ``WARC-Concurrent-To`` the response).
``WARC-Date`` is the capture's fetch time,
``WARC-Target-URI`` its final URL; ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` are SHA-256 in
base32 (``sha256:…``), the usual WARC form, which warcio verifies; the payload digest is the
snapshot's own SHA-256. Bodies are stored decoded, so ``Content-Encoding``/``Transfer-Encoding``
are dropped and ``Content-Length`` is the body's length. Extension fields ``Watcher-Requested-URI``,
``Watcher-Source-Id`` and ``Watcher-Snapshot-Id`` tie records back to watcher. The first response of
each source that belongs to a clinic is followed by a ``metadata`` record (``application/warc-fields``,
``WARC-Concurrent-To`` that response) naming the source's URL (``watcher-source-url``) and its clinic
(``watcher-clinic``). Gzip per record when asked (``.warc.gz``).

Reading (``import_warc``): ``response`` records of pages (HTML, XHTML, plain text or no content
type) become ``Capture`` objects and go through ``watcher.pipeline.record.record_capture`` with the claim
analysis, exactly like live captures, oldest first; sources are created for unknown URLs, in the clinic
that ``--clinic`` names, else in the one the file's ``watcher-clinic`` metadata gives their URL. A record
already imported (same source, capture time and body hash) is skipped, so importing a file twice
adds nothing. Captures older than a source's newest stored snapshot are skipped and counted:
the pipeline diffs each capture against the latest version, so inserting one in the middle of a
history would compare the wrong neighbours.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO, TextIO
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import iso_date_to_datetime
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from watcher import __version__
from watcher.capture import Capture, sha256_hex
from watcher.config import Settings
from watcher.db import Store
from watcher.errors import InputError
from watcher.links import normalize_url
from watcher.models import Check, Requisite, Snapshot, Source, raw_bytes
from watcher.pipeline.analyse import analyse_new_version
from watcher.pipeline.record import CheckResult, record_capture, unrecordable
from watcher.sources import SourceSpec, add_sources

log = logging.getLogger(__name__)

WARC_VERSION = "1.1"
PAGE_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
# The stored body is the decoded entity: these would describe a different byte stream.
_DROPPED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
METADATA_SOURCE_URL = "watcher-source-url"
METADATA_CLINIC = "watcher-clinic"


class _Sha256WARCWriter(WARCWriter):  # type: ignore[misc]
    """warcio's writer with SHA-256 block and payload digests instead of SHA-1."""

    @staticmethod
    def _create_digester() -> Any:
        return Digester("sha256")


def warc_date(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def sha256_base32(hex_digest: str) -> str:
    return "sha256:" + base64.b32encode(bytes.fromhex(hex_digest)).decode("ascii")


def _header_items(headers: dict[str, Any] | None) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for name, values in (headers or {}).items():
        for value in values if isinstance(values, list) else [values]:
            items.append((str(name), str(value)))
    return items


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{status} {phrase}"


def write_warc(
    out: BinaryIO,
    snapshots: Iterable[Snapshot],
    *,
    gzip: bool,
    filename: str | None = None,
    clinics: Mapping[int, str] | None = None,
    requisites: Callable[[Snapshot], Iterable[tuple[Requisite, datetime]]] | None = None,
) -> int:
    """Write the snapshots (with their raw bytes loaded) as WARC 1.1; returns how many. ``clinics``
    (source id → clinic name) go into a metadata record after each source's first response.
    ``requisites`` gives a snapshot's page requisites with the time each was fetched for it: written
    after the snapshot's records, a ``response`` the first time a URL's content appears in the file
    and a ``revisit`` (identical payload digest) referring to that response every later time."""
    writer = _Sha256WARCWriter(out, gzip=gzip, warc_version=WARC_VERSION)
    info = writer.create_warcinfo_record(
        filename or "",
        {
            "software": f"watcher/{__version__}",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "description": "Captures of clinic web pages recorded by watcher (medical-claim change monitor)",
        },
    )
    writer.write_record(info)
    info_id = info.rec_headers.get_header("WARC-Record-ID")
    count = 0
    named: set[int] = set()
    written: dict[tuple[str, str], tuple[str, str]] = {}  # (URL, SHA-256) of a requisite → (date, record id)
    for snapshot in snapshots:
        common = {"WARC-Date": warc_date(snapshot.fetched_at), "WARC-Warcinfo-ID": info_id}
        response = _response_record(
            writer,
            snapshot.final_url,
            snapshot.http_status,
            snapshot.headers,
            raw_bytes(snapshot),
            {
                **common,
                "Watcher-Requested-URI": snapshot.requested_url,
                "Watcher-Source-Id": str(snapshot.source_id),
                "Watcher-Snapshot-Id": str(snapshot.id),
            },
        )
        parts = urlsplit(snapshot.final_url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = writer.create_warc_record(
            snapshot.final_url,
            "request",
            payload=BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(
                f"GET {target}", [("Host", parts.netloc)], protocol="HTTP/1.1", is_http_request=True
            ),
            warc_headers_dict=dict(common),
        )
        writer.write_request_response_pair(request, response)
        if snapshot.screenshot is not None:
            writer.write_record(_screenshot_record(writer, snapshot, response, common))
        clinic = (clinics or {}).get(snapshot.source_id)
        if clinic and snapshot.source_id not in named:
            named.add(snapshot.source_id)
            writer.write_record(_clinic_record(writer, snapshot, clinic, response, common))
        for requisite, fetched_at in requisites(snapshot) if requisites is not None else ():
            writer.write_record(_requisite_record(writer, requisite, fetched_at, info_id, written))
        count += 1
    return count


def _response_record(
    writer: Any, url: str, status: int, headers: dict[str, Any] | None, body: bytes, warc_headers: dict[str, str]
) -> Any:
    items = [(k, v) for k, v in _header_items(headers) if k.lower() not in _DROPPED_HEADERS]
    items.append(("Content-Length", str(len(body))))
    return writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(body),
        length=len(body),
        http_headers=StatusAndHeaders(_status_line(status), items, protocol="HTTP/1.1"),
        warc_headers_dict=warc_headers,
    )


def _requisite_record(
    writer: Any,
    requisite: Requisite,
    fetched_at: datetime,
    info_id: str,
    written: dict[tuple[str, str], tuple[str, str]],
) -> Any:
    """A requisite's ``response``, or a ``revisit`` of the response already written for its content."""
    date = warc_date(fetched_at)
    headers = {"WARC-Date": date, "WARC-Warcinfo-ID": info_id, "Watcher-Requisite-Id": str(requisite.id)}
    key = (requisite.url, requisite.sha256)
    if key in written:
        first_date, first_id = written[key]
        return writer.create_revisit_record(
            requisite.url,
            sha256_base32(requisite.sha256),
            requisite.url,
            first_date,
            warc_headers_dict={**headers, "WARC-Refers-To": first_id},
        )
    record = _response_record(
        writer, requisite.url, requisite.http_status, requisite.headers, raw_bytes(requisite), headers
    )
    written[key] = (date, record.rec_headers.get_header("WARC-Record-ID"))
    return record


def _screenshot_record(writer: Any, snapshot: Snapshot, response: Any, common: dict[str, str]) -> Any:
    """The version's screenshot as a ``resource`` record tied to its response (``WARC-Concurrent-To``)."""
    shot = snapshot.screenshot
    assert shot is not None
    return writer.create_warc_record(
        f"urn:screenshot:{snapshot.final_url}",
        "resource",
        payload=BytesIO(shot.data),
        length=len(shot.data),
        warc_content_type=shot.media_type,
        warc_headers_dict={
            **common,
            "WARC-Date": warc_date(shot.taken_at),
            "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            "Watcher-Snapshot-Id": str(snapshot.id),
            "Watcher-Screenshot-SHA256": shot.sha256,
        },
    )


def _clinic_record(writer: Any, snapshot: Snapshot, clinic: str, response: Any, common: dict[str, str]) -> Any:
    """The clinic of the response's source, as ``application/warc-fields`` (one line each, UTF-8)."""
    fields = {METADATA_SOURCE_URL: snapshot.requested_url, METADATA_CLINIC: clinic}
    payload = "".join(f"{name}: {' '.join(value.split())}\r\n" for name, value in fields.items()).encode("utf-8")
    return writer.create_warc_record(
        snapshot.final_url,
        "metadata",
        payload=BytesIO(payload),
        length=len(payload),
        warc_content_type="application/warc-fields",
        warc_headers_dict={
            **common,
            "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            "Watcher-Source-Id": str(snapshot.source_id),
        },
    )


def clinics_of(record: Any) -> tuple[str, str] | None:
    """(source URL, clinic name) of a watcher ``metadata`` record; None for any other record."""
    if record.rec_type != "metadata":
        return None
    fields: dict[str, str] = {}
    for line in record.content_stream().read().decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip().lower()] = value.strip()
    url, clinic = fields.get(METADATA_SOURCE_URL), fields.get(METADATA_CLINIC)
    if not url or not clinic:
        return None
    try:
        return normalize_url(url), clinic
    except InputError:
        return None


# --- CDXJ index -----------------------------------------------------------------------------------


def surt_key(url: str) -> str:
    """The sort key of CDX(J) indexes (SURT): the host's labels reversed and comma-joined (a leading
    ``www`` and the default port dropped), ``)``, then the path and query, lower-cased, query
    arguments sorted — ``https://www.Clinic.jp/a?b=1&a=2`` → ``jp,clinic)/a?a=2&b=1``."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.")
    labels = ",".join(reversed(host.split(".")))
    port = parts.port
    if port is not None and port != {"http": 80, "https": 443}.get(parts.scheme.lower()):
        labels += f":{port}"
    query = "&".join(sorted(parts.query.split("&"))) if parts.query else ""
    return f"{labels}){parts.path or '/'}{'?' + query if query else ''}".lower()


def write_cdxj(warc_path: Path, out: TextIO) -> int:
    """Index a WARC file as CDXJ (``urlkey timestamp {json}``, sorted), the index pywb and
    ReplayWeb.page read: one line per ``response`` and ``revisit`` record with its offset and
    length in the file. Returns how many lines."""
    lines: list[tuple[str, str, str]] = []
    with warc_path.open("rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            kind = record.rec_type
            target = record.rec_headers.get_header("WARC-Target-URI")
            date = record.rec_headers.get_header("WARC-Date")
            headers = record.http_headers
            record.content_stream().read()  # offset and length are known once the record is consumed
            if kind not in ("response", "revisit") or not target or not date:
                continue
            fields: dict[str, Any] = {"url": target}
            if kind == "revisit":
                fields["mime"] = "warc/revisit"
            elif headers is not None:
                fields["mime"] = _media_type(headers) or "unk"
                fields["status"] = headers.get_statuscode()
            digest = record.rec_headers.get_header("WARC-Payload-Digest")
            if digest:
                fields["digest"] = digest
            fields.update(
                length=str(records.get_record_length()),
                offset=str(records.get_record_offset()),
                filename=warc_path.name,
            )
            timestamp = iso_date_to_datetime(date).strftime("%Y%m%d%H%M%S")
            lines.append((surt_key(target), timestamp, json.dumps(fields, ensure_ascii=False)))
    for key, timestamp, data in sorted(lines):
        out.write(f"{key} {timestamp} {data}\n")
    return len(lines)


def cdxj_path(warc_path: Path) -> Path:
    """Where the index of ``captures.warc.gz`` goes: ``captures.cdxj`` beside it."""
    name = warc_path.name.removesuffix(".gz").removesuffix(".warc")
    return warc_path.with_name(name + ".cdxj")


# --- import ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchivedResponse:
    url: str  # the URL the source is identified by (requested URI when recorded, else target URI)
    target_uri: str
    fetched_at: datetime
    status: int | None
    headers: dict[str, list[str]]
    body: bytes
    truncated: bool
    error: str | None = None


@dataclass
class Tally:
    """What recording external captures added: checks, snapshots, and checks by outcome."""

    checks: int = 0
    snapshots: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportReport(Tally):
    records: int = 0
    responses: int = 0
    already_imported: int = 0
    skipped_older: int = 0
    skipped_not_pages: int = 0
    skipped_bad_urls: int = 0
    sources_created: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "responses": self.responses,
            "checks": self.checks,
            "snapshots": self.snapshots,
            "outcomes": dict(sorted(self.outcomes.items())),
            "already_imported": self.already_imported,
            "skipped_older": self.skipped_older,
            "skipped_not_pages": self.skipped_not_pages,
            "skipped_bad_urls": self.skipped_bad_urls,
            "sources_created": self.sources_created,
        }


def _media_type(headers: StatusAndHeaders | None) -> str | None:
    value = headers.get_header("Content-Type") if headers is not None else None
    return value.split(";", 1)[0].strip().lower() if value else None


def _headers_dict(headers: StatusAndHeaders) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers.headers:
        if name.lower() in ("content-encoding", "transfer-encoding"):
            continue  # the body below is decoded
        out.setdefault(name, []).append(value)
    return out


def _status(headers: StatusAndHeaders) -> int | None:
    try:
        return int(headers.get_statuscode())
    except (TypeError, ValueError):
        return None


def read_responses(path: Path, report: ImportReport) -> tuple[list[ArchivedResponse], dict[str, str]]:
    """The page responses of a WARC file, oldest first, and the clinics its metadata records name
    (source URL → clinic). Raises InputError for a malformed file."""
    found: list[ArchivedResponse] = []
    clinics: dict[str, str] = {}
    try:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                report.records += 1
                named = clinics_of(record)
                if named is not None:
                    clinics[named[0]] = named[1]
                response = _response_of(record, report)
                if response is not None:
                    found.append(response)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    except Exception as error:  # warcio raises anything from ArchiveLoadFailed to AttributeError on bad input
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"{path} is not a valid WARC file: {first}") from None
    if report.records == 0:
        raise InputError(f"{path} is not a valid WARC file: it holds no records")
    found.sort(key=lambda r: r.fetched_at)
    return found, clinics


def _response_of(record: Any, report: ImportReport) -> ArchivedResponse | None:
    if record.rec_type != "response" or record.http_headers is None:
        return None
    report.responses += 1
    target = record.rec_headers.get_header("WARC-Target-URI") or ""
    status = _status(record.http_headers)
    media_type = _media_type(record.http_headers)
    if media_type is not None and media_type not in PAGE_TYPES:
        report.skipped_not_pages += 1
        return None
    date = record.rec_headers.get_header("WARC-Date")
    if not date:
        raise ArchiveLoadFailed(f"response record for {target} has no WARC-Date")
    fetched_at = iso_date_to_datetime(date).replace(tzinfo=UTC)
    error = None
    try:
        body = record.content_stream().read()
    except Exception as problem:  # a broken gzip/brotli/chunked body: a failed capture, not a failed import
        body, error = b"", f"undecodable body in the WARC record: {problem}"
    return ArchivedResponse(
        url=record.rec_headers.get_header("Watcher-Requested-URI") or target,
        target_uri=target,
        fetched_at=fetched_at,
        status=status,
        headers=_headers_dict(record.http_headers),
        body=body,
        truncated=bool(record.rec_headers.get_header("WARC-Truncated")),
        error=error,
    )


def _source_for(session: Session, url: str, *, clinic: str | None, report: ImportReport) -> Source:
    source = session.scalar(select(Source).where(Source.url == url))
    if source is None:
        source = add_sources(session, [SourceSpec(url=url, clinic=clinic)])[0]
        report.sources_created.append(url)
    return source


def _already_imported(session: Session, source_id: int, response: ArchivedResponse) -> bool:
    digest = sha256_hex(response.body) if response.body else None
    rows = session.scalars(
        select(Check.body_sha256).where(Check.source_id == source_id, Check.checked_at == response.fetched_at)
    )
    return any(row == digest for row in rows)


def _newer_snapshot_exists(session: Session, source_id: int, moment: datetime) -> bool:
    return (
        session.scalar(
            select(Snapshot.id).where(Snapshot.source_id == source_id, Snapshot.fetched_at > moment).limit(1)
        )
        is not None
    )


def captures_in_order(
    store: Store,
    responses: list[ArchivedResponse],
    *,
    clinic: str | None,
    report: ImportReport,
    clinics: Mapping[str, str] | None = None,
) -> Iterator[Capture]:
    """Captures of the responses not recorded yet; a new source goes in ``clinic``, else in the clinic
    that ``clinics`` (source URL → name) gives its URL."""
    for response in responses:
        try:
            url = normalize_url(response.url)
        except InputError:
            report.skipped_bad_urls += 1
            continue
        with store.session() as session:
            source = _source_for(session, url, clinic=clinic or (clinics or {}).get(url), report=report)
            if _already_imported(session, source.id, response):
                report.already_imported += 1
                continue
            if _newer_snapshot_exists(session, source.id, response.fetched_at):
                report.skipped_older += 1
                continue
            source_id = source.id
        yield Capture(
            source_id=source_id,
            requested_url=url,
            final_url=response.target_uri or url,
            fetched_at=response.fetched_at,
            duration_ms=0,
            status=response.status,
            headers=response.headers,
            body=response.body,
            truncated=response.truncated,
            error_kind="other" if response.error else None,
            error=response.error,
        )


def record_external(store: Store, capture: Capture, *, settings: Settings, tally: Tally) -> CheckResult:
    """Record a capture from outside the crawl (a WARC record, a web archive's capture) exactly as a
    live one, with the claim analysis, in its own transaction; counted in ``tally``. A capture whose
    recording raises (a bug met on one page) is recorded as a failed check instead (``unrecordable``),
    so that one record does not end the import; importing the file again retries it."""
    try:
        with store.session() as session:
            result = record_capture(session, capture, settings=settings, on_new_version=analyse_new_version)
    except Exception as error:
        with store.session() as session:
            result = record_capture(session, unrecordable(capture, error), settings=settings)
    tally.checks += 1
    tally.outcomes[result.outcome] = tally.outcomes.get(result.outcome, 0) + 1
    if result.snapshot_id is not None:
        tally.snapshots += 1
    log.info("recorded %s %s %s", result.outcome, capture.fetched_at.isoformat(), result.url)
    return result


def import_warc(store: Store, path: Path, *, settings: Settings, clinic: str | None = None) -> ImportReport:
    """Backfill history from a WARC file through the live capture pipeline (see the module doc)."""
    report = ImportReport()
    responses, clinics = read_responses(path, report)
    for capture in captures_in_order(store, responses, clinic=clinic, report=report, clinics=clinics):
        record_external(store, capture, settings=settings, tally=report)
    return report
