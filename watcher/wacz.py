"""WACZ 1.1.1 packaging of the WARC export: one ZIP that ReplayWeb.page opens and pywb unpacks.

Layout (the spec's directory layout): ``archive/data.warc.gz`` (the WARC export, gzipped per record,
stored uncompressed in the ZIP so that readers can seek into it), ``indexes/index.cdx`` (watcher's own
CDXJ index of that WARC, ``watcher.warc.write_cdxj``; the spec wants CDXJ data in ``indexes/`` and pywb's
``wb-manager add --unpack-wacz`` takes it only under a ``.cdx`` name), ``pages/pages.jsonl`` (the
``json-pages-1.0`` header, then one line per captured page: ``id`` (the snapshot id), ``url``, ``ts``
(RFC 3339), ``title`` when the text version has one), ``datapackage.json`` (``profile`` =
``data-package``, ``wacz_version``, ``title``, ``description``, ``created``, ``modified``, ``software``,
``mainPageUrl``/``mainPageDate`` (the newest page) and ``resources``: per file its ``name``, ``path``,
``hash`` (``sha256:`` + hex) and ``bytes``) and ``datapackage-digest.json`` (the manifest's own hash).
The file is written beside its final name and renamed into place, so a failed export leaves nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from warcio.archiveiterator import ArchiveIterator

from watcher import __version__
from watcher.capture import sha256_hex
from watcher.errors import InputError
from watcher.export import ExportFilter, export_warc
from watcher.models import TextVersion, utcnow
from watcher.warc import PAGE_TYPES, write_cdxj

WACZ_VERSION = "1.1.1"
WARC_PATH = "archive/data.warc.gz"
INDEX_PATH = "indexes/index.cdx"
PAGES_PATH = "pages/pages.jsonl"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All pages"}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WaczReport:
    snapshots: int
    pages: int
    index_lines: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _resource(path: str, digest: str, size: int) -> dict[str, Any]:
    return {"name": path.rsplit("/", 1)[-1], "path": path, "hash": f"sha256:{digest}", "bytes": size}


def _pages(session: Session, warc: Path) -> list[dict[str, Any]]:
    """The WARC's successful page responses, oldest first, titled from their text versions."""
    pages: list[dict[str, Any]] = []
    with warc.open("rb") as stream:
        for record in ArchiveIterator(stream):
            headers = record.http_headers
            if record.rec_type != "response" or headers is None:
                continue
            media = (headers.get_header("Content-Type") or "").split(";", 1)[0].strip().lower()
            status = int(headers.get_statuscode() or 0)
            if (media and media not in PAGE_TYPES) or not 200 <= status < 300:
                continue
            snapshot_id = record.rec_headers.get_header("Watcher-Snapshot-Id")
            pages.append(
                {
                    "id": snapshot_id,
                    "url": record.rec_headers.get_header("WARC-Target-URI"),
                    "ts": record.rec_headers.get_header("WARC-Date"),
                }
            )
    ids = [int(page["id"]) for page in pages if page["id"] and page["id"].isdigit()]
    rows = session.execute(
        select(TextVersion.snapshot_id, TextVersion.title).where(
            TextVersion.snapshot_id.in_(ids), TextVersion.title.is_not(None)
        )
    ).all()
    titles = {str(snapshot_id): title for snapshot_id, title in rows}
    for page in pages:
        if titles.get(page["id"]):
            page["title"] = titles[page["id"]]
    pages.sort(key=lambda page: (page["ts"], page["url"]))
    return pages


def _manifest(resources: list[dict[str, Any]], pages: list[dict[str, Any]], snapshots: int) -> dict[str, Any]:
    now = utcnow().isoformat().replace("+00:00", "Z")
    manifest: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": "watcher export",
        "description": f"{snapshots} capture(s) of watched clinic pages, exported by watcher.",
        "created": now,
        "modified": now,
        "software": f"watcher {__version__}",
    }
    if pages:
        manifest.update(mainPageUrl=pages[-1]["url"], mainPageDate=pages[-1]["ts"])
    manifest["resources"] = resources
    return manifest


def export_wacz(session: Session, path: Path, *, filters: ExportFilter) -> WaczReport:
    """Write the captures matching ``filters`` to ``path`` as a WACZ."""
    if not path.name.endswith(".wacz"):
        raise InputError(f"{path}: a WACZ file's name ends in .wacz")
    with tempfile.TemporaryDirectory(prefix="watcher-wacz-") as work:
        warc = Path(work) / WARC_PATH.rsplit("/", 1)[-1]
        with warc.open("wb") as out:
            snapshots = export_warc(session, out, filters=filters, gzip=True, filename=warc.name)
        index = io.StringIO()
        index_lines = write_cdxj(warc, index)
        pages = _pages(session, warc)
        small = {
            INDEX_PATH: index.getvalue().encode("utf-8"),
            PAGES_PATH: "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in [PAGES_HEADER, *pages]).encode(
                "utf-8"
            ),
        }
        resources = [_resource(WARC_PATH, sha256_file(warc), warc.stat().st_size)]
        resources += [_resource(name, sha256_hex(data), len(data)) for name, data in small.items()]
        manifest = json.dumps(_manifest(resources, pages, snapshots), ensure_ascii=False, indent=2).encode("utf-8")
        digest = {"path": "datapackage.json", "hash": f"sha256:{sha256_hex(manifest)}"}
        partial = path.with_name(f".{path.name}.part")
        try:
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as package:
                package.write(warc, WARC_PATH, compress_type=zipfile.ZIP_STORED)  # seekable: never recompressed
                for name, data in small.items():
                    package.writestr(name, data)
                package.writestr("datapackage.json", manifest)
                package.writestr("datapackage-digest.json", json.dumps(digest, indent=2))
            partial.replace(path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    return WaczReport(snapshots=snapshots, pages=len(pages), index_lines=index_lines)
