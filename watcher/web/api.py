"""The JSON API under ``/api``: sources, checks, snapshots (metadata, text, raw bytes), diffs, alerts
(list, one, acknowledge), claim timelines, full-text search, subscriptions.

Handlers only parse and check parameters and call the query functions that the CLI and the
dashboard call too (``watcher.queries``, ``watcher.search``, ``watcher.history``, ``watcher.sources``).
Reads follow ``require_read``, writes ``require_write`` (see ``watcher.web.deps``). Lists are paged
with ``limit`` (1–500) and ``offset``; a page says ``next_offset`` (null on the last page). Dates are
``YYYY-MM-DD`` or ISO 8601 (UTC unless an offset is given; a bare ``until``/``at`` date means the end
of that day).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from watcher.errors import InputError
from watcher.export import export_download, export_filter
from watcher.extract import Selectors
from watcher.history import diff_versions
from watcher.netguard import check_new_source
from watcher.queries.alerts import acknowledge_alert, alerts_page, get_alert
from watcher.queries.claims import claim_timelines
from watcher.queries.clinics import list_clinics, resolve_clinic
from watcher.queries.dates import parse_when
from watcher.queries.paging import MAX_LIMIT, MAX_OFFSET
from watcher.queries.snapshots import (
    checks_page,
    get_source,
    snapshot_info,
    snapshot_raw,
    snapshot_screenshot,
    snapshot_text_of,
    snapshots_page,
)
from watcher.queries.sources import source_info, sources_page
from watcher.queries.timeline import timeline, version_at
from watcher.search import MAX_TERM_CHARS, search
from watcher.sources import SourceSpec, add_sources, parse_interval, resolve_source, source_dict
from watcher.subscriptions import SubscriptionSpec, create_subscription, subscription_dict
from watcher.web.deps import (
    READ_RESPONSES,
    WRITE_RESPONSES,
    SessionDep,
    SettingsDep,
    mark_read_guarded,
    require_read,
    require_write,
)
from watcher.web.security import RAW_MEDIA_TYPE, raw_download

MAX_ID = 2**31 - 1


def reject_control_characters(request: Request) -> None:
    """NUL and other control characters in query parameters are never meaningful (and PostgreSQL
    refuses NUL in text): a clear 400 instead of a database error."""
    for name, value in request.query_params.multi_items():
        if any(ord(ch) < 32 for ch in name + value):
            raise InputError(f"query parameter {name!r} contains control characters")


router = APIRouter(prefix="/api", dependencies=[Depends(reject_control_characters)])
read = APIRouter(dependencies=[Depends(require_read)], responses=READ_RESPONSES)
write = APIRouter(dependencies=[Depends(require_write)], responses=WRITE_RESPONSES)

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")]
DateParam = Annotated[str | None, Query(max_length=40, description="YYYY-MM-DD or an ISO 8601 timestamp.")]
Text = Annotated[str | None, Query(max_length=300)]


# Control characters are never meaningful in these fields: the schema says so, and pydantic enforces
# it (422), so that what the schema admits is what the API accepts.
PLAIN = r"^[^\x00-\x1f]*$"
URL = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20]+$"
INTERVAL = r"^ *[0-9]+(\.[0-9]+)? *[smhdwSMHDW] *$"
PlainText = Annotated[str, Field(max_length=300, pattern=PLAIN)]
CssList = Annotated[list[Annotated[str, Field(max_length=500, pattern=PLAIN)]], Field(max_length=20)]


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, pattern=URL, description="http(s) URL of the page or site entry point.")
    clinic: PlainText | None = None
    kind: Literal["page", "site"] = "page"
    interval: str = Field(default="1d", max_length=20, pattern=INTERVAL, description="Check interval: 30m, 6h, 1d, 1w.")
    language: Literal["ja", "en", "mixed"] | None = None
    render: bool = Field(default=False, description="Fetch through a headless browser (implies screenshot).")
    screenshot: bool = Field(default=False, description="Keep a full-page screenshot of each version.")
    requisites: bool = Field(default=False, description="Keep each version's stylesheets, images and scripts.")
    select: CssList = Field(default_factory=list, description="CSS selectors: the main text is what they match.")
    drop: CssList = Field(default_factory=list, description="CSS selectors: removed before extracting.")


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str | None = Field(default=None, max_length=200, pattern=PLAIN, description="Who acknowledges (free text).")


ShortList = Annotated[list[PlainText], Field(max_length=50)]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, pattern=PLAIN)
    mode: Literal["immediate", "daily"] = "immediate"
    clinics: ShortList = Field(default_factory=list, description="Clinic names or ids.")
    sources: ShortList = Field(default_factory=list, description="Source URLs or ids.")
    kinds: ShortList = Field(default_factory=list)
    indications: ShortList = Field(default_factory=list)
    categories: ShortList = Field(default_factory=list, description="Guideline categories, e.g. testimonial.")
    min_severity: Literal["low", "medium", "high"] = "low"


# --- clinics and sources ---------------------------------------------------------------------------


@read.get("/clinics", summary="Clinics with their number of sources")
def clinics(session: SessionDep) -> list[dict[str, Any]]:
    return list_clinics(session)


@read.get("/sources", summary="Watched sources, by id")
def sources(session: SessionDep, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    return sources_page(session, limit=limit, offset=offset)


@write.post("/sources", status_code=201, summary="Watch a new URL (needs the API token)")
def add_source(session: SessionDep, settings: SettingsDep, body: Annotated[SourceIn, Body()]) -> dict[str, Any]:
    check_new_source(body.url, allowed=settings.fetch_networks)  # private, loopback, link-local: 400
    spec = SourceSpec(
        url=body.url,
        clinic=body.clinic or None,
        kind=body.kind,
        interval_seconds=parse_interval(body.interval),
        language=body.language,
        render=body.render,
        screenshot=body.screenshot,
        requisites=body.requisites,
        selectors=Selectors.parse(select=body.select, drop=body.drop),  # invalid CSS: 400, one line
    )
    return source_dict(add_sources(session, [spec])[0])


@read.get("/sources/{source_id}", summary="One source, with its number of checks and snapshots")
def source(session: SessionDep, source_id: Id) -> dict[str, Any]:
    return source_info(session, source_id)


@read.get(
    "/sources/{source_id}/timeline", summary="Every check and snapshot, with the claims and alerts of each version"
)
def source_timeline(session: SessionDep, source_id: Id) -> dict[str, Any]:
    return timeline(session, get_source(session, source_id))


@read.get("/sources/{source_id}/checks", summary="Checks of a source, oldest first")
def source_checks(session: SessionDep, source_id: Id, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    return checks_page(session, get_source(session, source_id), limit=limit, offset=offset)


@read.get("/sources/{source_id}/snapshots", summary="Snapshots of a source, oldest first")
def source_snapshots(session: SessionDep, source_id: Id, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    return snapshots_page(session, get_source(session, source_id), limit=limit, offset=offset)


@read.get("/sources/{source_id}/text", summary="The text in force at a date (latest snapshot at or before it)")
def source_text_at(
    session: SessionDep,
    source_id: Id,
    at: Annotated[str, Query(max_length=40, description="YYYY-MM-DD (end of day) or ISO 8601.")],
) -> dict[str, Any]:
    moment = parse_when(at, end_of_day=True)
    assert moment is not None
    return version_at(session, get_source(session, source_id), moment)


@read.get("/sources/{source_id}/diff", summary="Diff between two snapshots of a source (default: the last two)")
def source_diff(
    session: SessionDep,
    settings: SettingsDep,
    source_id: Id,
    from_id: Annotated[int | None, Query(alias="from", ge=1, le=MAX_ID)] = None,
    to_id: Annotated[int | None, Query(alias="to", ge=1, le=MAX_ID)] = None,
) -> dict[str, Any]:
    found = get_source(session, source_id)
    return diff_versions(session, found, from_id=from_id, to_id=to_id, timeout=settings.diff_timeout).to_dict()


# --- snapshots ------------------------------------------------------------------------------------


@read.get("/snapshots/{snapshot_id}", summary="A snapshot's metadata: date, hashes, headers, final URL")
def snapshot(session: SessionDep, snapshot_id: Id) -> dict[str, Any]:
    return snapshot_info(session, snapshot_id)


@read.get("/snapshots/{snapshot_id}/text", summary="A snapshot's extracted text")
def snapshot_text(session: SessionDep, snapshot_id: Id) -> dict[str, Any]:
    return snapshot_text_of(session, snapshot_id)


@read.get(
    "/snapshots/{snapshot_id}/raw",
    summary="The captured bytes, as served by the site, as a download",
    response_class=Response,
    responses={
        200: {
            "content": {RAW_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The raw body as an attachment (the file name's extension tells the captured type; "
            "`GET /api/snapshots/{id}` has its Content-Type).",
            "headers": {
                "X-Content-SHA256": {"description": "SHA-256 of the body (hex)", "schema": {"type": "string"}},
                "Repr-Digest": {"description": "RFC 9530 digest of the body", "schema": {"type": "string"}},
                "Content-Disposition": {"description": "attachment; filename=...", "schema": {"type": "string"}},
            },
        }
    },
)
def snapshot_raw_bytes(session: SessionDep, snapshot_id: Id) -> Response:
    return raw_download(snapshot_raw(session, snapshot_id))


@read.get(
    "/snapshots/{snapshot_id}/screenshot",
    summary="The full-page screenshot of a version (PNG), for sources rendered or screenshotted",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The PNG; X-Content-SHA256 is its SHA-256 (hex)."},
        404: {"description": "No such snapshot, or no screenshot of it."},
    },
)
def snapshot_screenshot_png(session: SessionDep, snapshot_id: Id) -> Response:
    shot = snapshot_screenshot(session, snapshot_id)
    return Response(
        content=shot.body,
        media_type="image/png",
        headers={
            "X-Content-SHA256": shot.sha256,
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'inline; filename="screenshot-{shot.snapshot_id}.png"',
        },
    )


# --- alerts ---------------------------------------------------------------------------------------


@read.get("/alerts", summary="Alerts, with the filters of `watcher alerts` and more")
def alerts(
    session: SessionDep,
    source: Annotated[str | None, Query(max_length=2048, description="Source id or URL.")] = None,
    clinic: Text = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    indication: Annotated[str | None, Query(max_length=80)] = None,
    since: DateParam = None,
    until: DateParam = None,
    acknowledged: Annotated[bool | None, Query(description="true: only acknowledged; false: only open.")] = None,
    order: Annotated[Literal["asc", "desc"], Query(description="By capture date.")] = "desc",
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    return alerts_page(
        session,
        limit=limit,
        offset=offset,
        source_id=resolve_source(session, source).id if source else None,
        clinic_id=resolve_clinic(session, clinic).id if clinic else None,
        kind=kind or None,
        indication=indication or None,
        since=parse_when(since),
        until=parse_when(until, end_of_day=True),
        acknowledged=acknowledged,
        newest_first=order == "desc",
    )


@read.get("/alerts/{alert_id}", summary="One alert, with its finding's details")
def alert(session: SessionDep, alert_id: Id) -> dict[str, Any]:
    return get_alert(session, alert_id)


@write.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert (needs the API token)")
def acknowledge(
    session: SessionDep, alert_id: Id, body: Annotated[AcknowledgeIn | None, Body()] = None
) -> dict[str, Any]:
    return acknowledge_alert(session, alert_id, by=body.by if body else None)


# --- exports --------------------------------------------------------------------------------------


@read.get(
    "/export",
    summary="Export as a file: alerts, claims or snapshots (CSV, JSON), captures (WARC)",
    response_class=Response,
)
def export(
    session: SessionDep,
    what: Literal["alerts", "claims", "snapshots"] = "alerts",
    format: Literal["csv", "json", "warc"] = "csv",
    clinic: Text = None,
    source: Annotated[str | None, Query(max_length=2048, description="Source id or URL.")] = None,
    since: DateParam = None,
    until: DateParam = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    indication: Annotated[str | None, Query(max_length=80)] = None,
    excel: Annotated[bool, Query(description="CSV with a byte-order mark for Excel.")] = False,
) -> Response:
    """The filters of `watcher export`; a WARC holds the captures (what=snapshots), gzipped per record."""
    filters = export_filter(
        session, clinic=clinic, source=source, since=since, until=until, kind=kind, indication=indication
    )
    file = export_download(session, what=what, fmt=format, filters=filters, excel=excel)
    return Response(
        file.body,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


# --- claims and search ----------------------------------------------------------------------------


@read.get("/claims", summary="Claim timelines per clinic × indication, and who claims what now")
def claims(
    session: SessionDep, clinic: Text = None, indication: Annotated[str | None, Query(max_length=80)] = None
) -> dict[str, Any]:
    return claim_timelines(
        session, clinic_id=resolve_clinic(session, clinic).id if clinic else None, indication=indication or None
    )


@read.get("/search", summary="Full-text search over every stored version (Japanese included)")
def search_versions(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_TERM_CHARS, description="Text to find.")],
    clinic: Text = None,
    since: DateParam = None,
    until: DateParam = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return search(
        session,
        q,
        clinic_id=resolve_clinic(session, clinic).id if clinic else None,
        since=parse_when(since),
        until=parse_when(until, end_of_day=True),
        limit=limit,
    )


# --- subscriptions (watcher.subscriptions) --------------------------------------------------------


@write.post("/subscriptions", status_code=201, summary="Subscribe an address to alerts (needs the API token)")
def subscribe(session: SessionDep, body: Annotated[SubscriptionIn, Body()], response: Response) -> dict[str, Any]:
    subscription, created = create_subscription(
        session,
        SubscriptionSpec(
            email=body.email,
            mode=body.mode,
            clinics=list(body.clinics),
            sources=list(body.sources),
            kinds=list(body.kinds),
            indications=list(body.indications),
            categories=list(body.categories),
            min_severity=body.min_severity,
        ),
    )
    if not created:
        response.status_code = 200
    return subscription_dict(session, subscription)


mark_read_guarded(read)
router.include_router(read)
router.include_router(write)
