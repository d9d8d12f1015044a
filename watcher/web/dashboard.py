"""The dashboard: server-rendered HTML pages over the stored history, readable without JavaScript.

Pages (all GET unless said otherwise):

==============================  =================================================================
``/``                           overview: clinics and sources, what each claims now and how
                                strongly, last check, recent alerts; filters clinic/indication/kind
``/matrix``                     clinic × indication: current strength, linked to the evidence;
                                ``category`` keeps the clinics with a page in that guideline category
``/clinics/{id}/report``        the regulator's report (``watcher report``); ``format=csv|json``
                                downloads it
``/clinics/{id}``               claim drift: strength per indication over time (SVG step charts),
                                indications and references counted over time
``/sources/{id}``               page history: versions and checks
``/sources/{id}/diff``          diff viewer (``from``/``to`` snapshot ids, ``view=inline|side``,
                                ``context=N|all``) with the claim findings beside their lines
``/snapshots/{id}``             one captured version: metadata, SHA-256, claims, text
``/snapshots/{id}/raw``         the captured bytes, as an attachment (never rendered here)
``/alerts``, ``/alerts/{id}``   alert feed with filters, one alert with its triage history
``POST /alerts/{id}/triage``    acknowledge / false positive / note / reopen (logged in)
``/export``                     ``watcher export`` as a download (CSV for Excel, JSON, WARC)
``/search``                     full-text search over every stored version
``/login``, ``POST /logout``    token login (``WATCHER_API_TOKEN``) that sets the session cookie
``/diff/{source id}``           redirect for the diff links of alert e-mails
==============================  =================================================================

Security (see ``watcher.web.security``): autoescaping everywhere, a strict CSP and the other
headers on every response, CSRF tokens on every form, writes only for logged-in sessions.
Unknown ids and bad parameters are friendly HTML error pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from watcher import __version__
from watcher.claims.compare import SEVERITIES
from watcher.claims.regulation import category_ids, check_category
from watcher.config import Settings
from watcher.errors import InputError, NotFoundError, WatcherError
from watcher.export import WHATS, export_download, export_filter
from watcher.history import diff_versions
from watcher.queries.choices import ALERT_KINDS as KINDS
from watcher.queries.claims import claim_timelines
from watcher.queries.clinics import get_clinic, list_clinics
from watcher.queries.dates import parse_when
from watcher.queries.overview import (
    clinic_counts,
    clinic_time_range,
    raising_alerts,
    source_overview,
)
from watcher.queries.regulation import clinics_in_category, regulation_report
from watcher.queries.snapshots import get_source, snapshot_info, snapshot_raw, snapshot_screenshot, snapshot_text_of
from watcher.queries.timeline import screenshot_briefs, timeline
from watcher.queries.versions import (
    alert_indications,
    alerts_at,
    diff_context,
    neighbours,
    open_alert_count,
    profile_evidence,
    stored_profile,
)
from watcher.search import MAX_TERM_CHARS, search
from watcher.triage import (
    ACTIONS,
    STATES,
    alert_with_triage,
    record_triage,
    triaged_alerts_page,
)
from watcher.web.charts import Step, counts_chart, strength_chart
from watcher.web.deps import SessionDep, SettingsDep
from watcher.web.diffview import (
    DEFAULT_CONTEXT,
    aligned_lines,
    inline_rows,
    place_findings,
    side_by_side_rows,
)
from watcher.web.report import MEDIA_TYPES, REPORT_FORMATS, report_filename, report_text
from watcher.web.security import (
    SESSION_COOKIE,
    CsrfError,
    DashboardSession,
    apply_security_headers,
    check_csrf,
    csrf_token,
    decode_session,
    new_session,
    raw_download,
    safe_next,
    session_secret,
    set_session_cookie,
    token_matches,
)
from watcher.web.templating import STATIC_DIR, link, make_templates, strength_word, when
from watcher.web.throttle import client_of, throttle_of

log = logging.getLogger(__name__)

MAX_ID = 2**31 - 1
ALERTS_PER_PAGE = 50
CHECKS_SHOWN = 200
STATIC_FILES = {"dashboard.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}

templates = make_templates()


class LoginRequired(Exception):
    """Reads need the token (WATCHER_API_READ_TOKEN_REQUIRED) and the visitor has not logged in."""


# --- the route class: sessions, headers, friendly errors -------------------------------------------


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    try:
        return render(request, "error.html", {"title": title, "message": message}, status=status)
    except Exception:  # the error page itself failed (say, the database is down): plain text
        log.exception("cannot render the error page")
        return Response(f"{status} {title}: {message}", status_code=status, media_type="text/plain; charset=utf-8")


_TITLES = {
    400: "Bad request",
    401: "Login needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    500: "Internal error",
    503: "Database unavailable",
}


class DashboardRoute(APIRoute):
    """Every dashboard route: a session for every visitor, the security headers on every answer,
    and HTML error pages instead of the JSON errors of the API."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            current_session(request)
            try:
                response = await original(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response = RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
            except CsrfError as error:
                response = _error_page(request, 403, "Form refused", str(error))
            except NotFoundError as error:
                response = _error_page(request, 404, "Not found", str(error))
            except WatcherError as error:
                response = _error_page(request, 400, "Bad request", str(error))
            except RequestValidationError as error:
                response = _error_page(request, 400, "Bad request", _validation_message(error))
            except HTTPException as error:
                response = _error_page(
                    request, error.status_code, _TITLES.get(error.status_code, "Error"), str(error.detail)
                )
            except OperationalError as error:
                first = (str(error.orig or error).strip().splitlines() or ["error"])[0]
                response = _error_page(request, 503, "Database unavailable", first)
            except Exception:  # a bug: still an HTML page with the security headers, details in the log
                log.exception("dashboard error on %s", request.url.path)
                response = _error_page(
                    request, 500, "Internal error", "Something went wrong on the server; the details are in its log."
                )
            apply_security_headers(response)
            changed: DashboardSession | None = getattr(request.state, "set_session", None)
            if changed is not None:
                set_session_cookie(response, request, changed, _secret(request))
            return response

        return handler


def _quote(value: str) -> str:
    return quote(value, safe="/")


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("query", "body", "path"))
        parts.append(f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid")))
    return "; ".join(parts) or "invalid parameters"


router = APIRouter(route_class=DashboardRoute, include_in_schema=False, tags=["dashboard"])


# --- sessions and rendering -------------------------------------------------------------------------


def _secret(request: Request) -> bytes:
    return session_secret(request.app.state.settings)


def current_session(request: Request) -> DashboardSession:
    """The visitor's session (a new anonymous one, set as a cookie, when there is none)."""
    held: DashboardSession | None = getattr(request.state, "dashboard_session", None)
    if held is not None:
        return held
    session = decode_session(request.cookies.get(SESSION_COOKIE), _secret(request))
    if session is None:
        session = new_session()
        request.state.set_session = session
    request.state.dashboard_session = session
    return session


def _replace_session(request: Request, session: DashboardSession) -> None:
    request.state.dashboard_session = session
    request.state.set_session = session


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    settings = request.app.state.settings
    session = current_session(request)
    base = {
        "version": __version__,
        "session": session,
        "csrf_token": csrf_token(session, _secret(request)),
        "login_enabled": bool(settings.api_token),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "nav": "",
    }
    response: HTMLResponse = templates.TemplateResponse(request, name, {**base, **context}, status_code=status)
    return response


def require_read(request: Request) -> None:
    if request.app.state.settings.api_read_token_required and not current_session(request).logged_in:
        raise LoginRequired()


def _id(value: str, what: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise NotFoundError(f"no {what} {value!r}: {what} ids are whole numbers")
    return int(value)


def _optional_id(value: str | None, what: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not value.strip().isdigit() or not 1 <= int(value.strip()) <= MAX_ID:
        raise InputError(f"{what} must be an id (a whole number), not {value!r}")
    return int(value.strip())


def _choice(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
    return value


OptionalText = Annotated[str | None, Query(max_length=300)]


# --- static files ---------------------------------------------------------------------------------


@cache
def _static(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFoundError(f"no static file {name!r}")
    return Response(_static(name), media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


# --- overview -------------------------------------------------------------------------------------


def _known_indications(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    seen = {name for row in rows if row["claims"] for name in row["claims"]["indications"]}
    return sorted(seen | alert_indications(session))


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    session: SessionDep,
    clinic: OptionalText = None,
    indication: OptionalText = None,
    kind: OptionalText = None,
) -> Response:
    require_read(request)
    clinic_id = _optional_id(clinic, "clinic")
    chosen_kind = _choice(kind, KINDS, "alert kind")
    if clinic_id is not None:
        get_clinic(session, clinic_id)
    everything = source_overview(session)
    rows = [r for r in everything if clinic_id is None or r["clinic_id"] == clinic_id]
    if indication:
        rows = [r for r in rows if r["claims"] and indication in r["claims"]["indications"]]
    groups: list[dict[str, Any]] = []
    for row in rows:
        if not groups or groups[-1]["clinic_id"] != row["clinic_id"] or row["clinic_id"] is None:
            groups.append({"clinic_id": row["clinic_id"], "clinic": row["clinic"], "sources": []})
        groups[-1]["sources"].append(row)
    alerts = triaged_alerts_page(
        session, limit=15, clinic_id=clinic_id, kind=chosen_kind, indication=indication or None
    )
    last_checks = [r["last_check"]["checked_at"] for r in everything if r["last_check"]]
    return render(
        request,
        "overview.html",
        {
            "nav": "overview",
            "groups": groups,
            "alerts": alerts["items"],
            "more_alerts": alerts["next_offset"],
            "clinics": list_clinics(session),
            "indications": _known_indications(session, everything),
            "kinds": KINDS,
            "filters": {"clinic": clinic_id, "indication": indication or "", "kind": chosen_kind or ""},
            "summary": {
                "clinics": len({r["clinic_id"] for r in everything if r["clinic_id"] is not None}),
                "sources": len(everything),
                "open_alerts": open_alert_count(session),
                "last_check": max(last_checks) if last_checks else None,
            },
        },
    )


# --- claim drift: clinic page and matrix -----------------------------------------------------------


def _step_title(step: dict[str, Any]) -> str:
    return f"{when(step['at'])} UTC: {step['strength']} {strength_word(step['strength'])} — {step['source_url']}"


@router.get("/clinics/{clinic_id}", response_class=HTMLResponse)
def clinic_page(request: Request, session: SessionDep, clinic_id: str) -> Response:
    require_read(request)
    clinic = get_clinic(session, _id(clinic_id, "clinic"))
    first, last = clinic_time_range(session, clinic.id)
    end = last  # the axis ends at the clinic's last check or capture
    timelines = claim_timelines(session, clinic_id=clinic.id)["timelines"]
    charts = []
    if first is not None and end is not None:
        for item in timelines:
            steps = [
                Step(
                    datetime.fromisoformat(s["at"]),
                    int(s["strength"]),
                    _step_title(s),
                    f"/snapshots/{s['snapshot_id']}",
                )
                for s in item["steps"]
            ]
            if steps and steps[0].at > first:
                steps.insert(0, Step(first, 0, "not claimed yet"))
            title = f"{item['indication']}: strength over time"
            charts.append({"timeline": item, "chart": strength_chart(steps, start=first, end=end, title=title)})
        charts.sort(key=lambda c: (-c["timeline"]["current_strength"], c["timeline"]["indication"]))
        points = clinic_counts(session, clinic.id)
        series = {
            "indications claimed": [
                Step(
                    p["at"],
                    p["indications"],
                    f"{p['indications']} indication(s) claimed",
                    f"/snapshots/{p['snapshot_id']}",
                )
                for p in points
            ],
            "references cited": [
                Step(
                    p["at"], p["references"], f"{p['references']} reference(s) cited", f"/snapshots/{p['snapshot_id']}"
                )
                for p in points
            ],
        }
        counts = (
            counts_chart(series, start=first, end=end, title="indications and references over time") if points else None
        )
    else:
        points, counts = [], None
    alerts = triaged_alerts_page(session, limit=20, clinic_id=clinic.id)
    return render(
        request,
        "clinic.html",
        {
            "nav": "overview",
            "clinic": clinic,
            "charts": charts,
            "counts": counts,
            "count_points": points,
            "sources": source_overview(session, clinic_id=clinic.id),
            "alerts": alerts["items"],
            "more_alerts": alerts["next_offset"],
            "first": first,
            "last": last,
        },
    )


@router.get("/clinics/{clinic_id}/report", response_class=HTMLResponse)
def clinic_report(
    request: Request, session: SessionDep, clinic_id: str, format: Annotated[str | None, Query(max_length=8)] = None
) -> Response:
    """The regulator's report of a clinic; ``format=csv`` (for Excel) or ``json`` as a download."""
    require_read(request)
    clinic = get_clinic(session, _id(clinic_id, "clinic"))
    report = regulation_report(session, clinic=clinic.name)
    fmt = _choice(format, REPORT_FORMATS, "format") or "html"
    generated = datetime.now(UTC)
    if fmt != "html":
        return Response(
            report_text(report, fmt, generated=generated, excel=True),
            media_type=MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{report_filename(report, fmt)}"'},
        )
    return render(request, "report.html", {"nav": "overview", "report": report, "generated": generated})


def _category_filter(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return check_category(value)
    except ValueError as error:
        raise InputError(str(error)) from None


@router.get("/matrix", response_class=HTMLResponse)
def matrix(request: Request, session: SessionDep, category: OptionalText = None) -> Response:
    require_read(request)
    chosen = _category_filter(category)
    keep = clinics_in_category(session, chosen) if chosen else None
    data = claim_timelines(session)
    evidence = raising_alerts(session)
    rows: dict[Any, dict[str, Any]] = {}
    claimed_now: dict[str, int] = {}
    for item in data["timelines"]:
        if keep is not None and item["clinic_id"] not in keep:
            continue
        last = item["steps"][-1]
        key = item["clinic_id"] if item["clinic_id"] is not None else f"source-{last['source_id']}"
        row = rows.setdefault(
            key,
            {"clinic_id": item["clinic_id"], "clinic": item["clinic"], "source_url": last["source_url"], "cells": {}},
        )
        alert_id = evidence.get((item["clinic_id"], item["indication"])) if item["clinic_id"] is not None else None
        strength = item["current_strength"]
        row["cells"][item["indication"]] = {
            "strength": strength,
            "since": item["claimed_since"],
            "dropped_at": item["dropped_at"],
            "snapshot_id": last["snapshot_id"],
            "source_id": last["source_id"],
            "alert_id": alert_id if strength > 0 else None,
        }
        claimed_now[item["indication"]] = claimed_now.get(item["indication"], 0) + (1 if strength > 0 else 0)
    columns = sorted(claimed_now, key=lambda name: (-claimed_now[name], name))
    ordered = sorted(rows.values(), key=lambda r: (r["clinic"] is None, r["clinic"] or r["source_url"]))
    return render(
        request,
        "matrix.html",
        {
            "nav": "matrix",
            "rows": ordered,
            "columns": columns,
            "claimed_now": claimed_now,
            "category": chosen,
            "categories": category_ids(),
        },
    )


# --- page history, versions, diffs, raw captures ---------------------------------------------------


@router.get("/sources/{source_id}", response_class=HTMLResponse)
def source_page(
    request: Request, session: SessionDep, source_id: str, checks: Annotated[str | None, Query(max_length=10)] = None
) -> Response:
    require_read(request)
    source = get_source(session, _id(source_id, "source"))
    data = timeline(session, source)
    versions = data["snapshots"]
    for index, version in enumerate(versions):
        version["previous_id"] = versions[index - 1]["id"] if index > 0 else None
    all_checks = list(reversed(data["checks"]))
    shown = all_checks if checks == "all" else all_checks[:CHECKS_SHOWN]
    return render(
        request,
        "source.html",
        {
            "nav": "overview",
            "source": data["source"],
            "versions": list(reversed(versions)),
            "checks": shown,
            "hidden_checks": len(all_checks) - len(shown),
            "open_alerts": open_alert_count(session, source_id=source.id),
        },
    )


@router.get("/diff/{source_id}")
def diff_redirect(request: Request, source_id: str) -> Response:
    """The diff links of alert e-mails (``/diff/SOURCE?from=…&to=…``) lead to the diff viewer."""
    target = f"/sources/{_id(source_id, 'source')}/diff"
    query = request.url.query
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=307)


@router.get("/sources/{source_id}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    source_id: str,
    from_id: Annotated[str | None, Query(alias="from", max_length=12)] = None,
    to_id: Annotated[str | None, Query(alias="to", max_length=12)] = None,
    view: Annotated[str | None, Query(max_length=10)] = None,
    context: Annotated[str | None, Query(max_length=5)] = None,
) -> Response:
    require_read(request)
    source = get_source(session, _id(source_id, "source"))
    mode = _choice(view, ("inline", "side"), "view") or "inline"
    if context in (None, ""):
        lines_around: int | None = DEFAULT_CONTEXT
    elif context == "all":
        lines_around = None
    elif context.isdigit() and int(context) <= 1000:
        lines_around = int(context)
    else:
        raise InputError("context must be a number of lines or 'all'")
    result = diff_versions(
        session,
        source,
        from_id=_optional_id(from_id, "from"),
        to_id=_optional_id(to_id, "to"),
        timeout=settings.diff_timeout,
    )
    around = diff_context(session, result)
    old_id, new_id = result.old.snapshot_id, result.new.snapshot_id
    shots = screenshot_briefs(session, [old_id, new_id])
    lines = aligned_lines(result.diff.lines)
    placed = place_findings(around.findings, old=lines.old, new=lines.new)
    rows = (
        inline_rows(lines, context=lines_around) if mode == "inline" else side_by_side_rows(lines, context=lines_around)
    )

    def diff_url(old: int, new: int, *, view: str | None = None, context: int | str | None = None) -> str:
        around = lines_around if context is None else context
        return link(
            f"/sources/{source.id}/diff",
            **{
                "from": old,
                "to": new,
                "view": None if (view or mode) == "inline" else (view or mode),
                "context": None if around == DEFAULT_CONTEXT else ("all" if around is None else around),
            },
        )

    return render(
        request,
        "diff.html",
        {
            "nav": "overview",
            "source": source,
            "old": result.old,
            "new": result.new,
            "diff": result.diff,
            "rows": rows,
            "mode": mode,
            "context": "all" if lines_around is None else lines_around,
            "findings": placed,
            "alerts": around.alerts,
            "previous": around.previous,
            "following": around.following,
            "consecutive": around.consecutive,
            "language": result.new.language or source.language or "",
            "diff_url": diff_url,
            "screenshots": {"old": shots.get(old_id), "new": shots.get(new_id)},
        },
    )


@router.get("/snapshots/{snapshot_id}", response_class=HTMLResponse)
def snapshot_page(
    request: Request,
    session: SessionDep,
    snapshot_id: str,
    q: Annotated[str | None, Query(max_length=MAX_TERM_CHARS)] = None,
) -> Response:
    require_read(request)
    info = snapshot_info(session, _id(snapshot_id, "snapshot"))
    text = snapshot_text_of(session, info["id"])["text"] or ""
    profile_data = None if info["text_version_id"] is None else stored_profile(session, info["text_version_id"])
    needles = [(q.strip(), "hit")] if q and q.strip() else []
    needles += [(sentence, "evidence") for sentence in profile_evidence(profile_data)]
    previous_id, next_id = neighbours(session, info["source_id"], info["id"])
    return render(
        request,
        "snapshot.html",
        {
            "nav": "overview",
            "info": info,
            "lines": text.split("\n"),
            "needles": needles,
            "q": q or "",
            "profile": profile_data,
            "source": get_source(session, info["source_id"]),
            "previous_id": previous_id,
            "next_id": next_id,
            "alerts": alerts_at(session, info["source_id"], [info["id"]]),
            "language": info["language"] or "",
        },
    )


@router.get("/snapshots/{snapshot_id}/raw")
def snapshot_raw_download(request: Request, session: SessionDep, snapshot_id: str) -> Response:
    """The captured bytes as a download. Never rendered on this origin: octet-stream, attachment,
    nosniff, and a sandboxing CSP in case a browser were to display it anyway."""
    require_read(request)
    return raw_download(snapshot_raw(session, _id(snapshot_id, "snapshot")))


# --- downloads ------------------------------------------------------------------------------------


@router.get("/export")
def export_page(
    request: Request,
    session: SessionDep,
    what: Annotated[str, Query(max_length=10)] = "alerts",
    format: Annotated[str, Query(max_length=5)] = "csv",
    clinic: OptionalText = None,
    source: OptionalText = None,
    kind: OptionalText = None,
    indication: OptionalText = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The export of `watcher export` as a download; CSV for Excel (byte-order mark) by default."""
    require_read(request)
    filters = export_filter(
        session, clinic=clinic, source=source, since=since, until=until, kind=kind, indication=indication
    )
    file = export_download(
        session, what=_choice(what, WHATS, "export") or "alerts", fmt=format, filters=filters, excel=True
    )
    return Response(
        file.body,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.get("/snapshots/{snapshot_id}/screenshot")
def snapshot_screenshot_image(request: Request, session: SessionDep, snapshot_id: str) -> Response:
    """The screenshot of a version: a PNG the browser made, shown inline (an image runs no script)."""
    require_read(request)
    shot = snapshot_screenshot(session, _id(snapshot_id, "snapshot"))
    return Response(
        content=shot.body,
        media_type="image/png",
        headers={
            "Content-Disposition": f'inline; filename="screenshot-{shot.snapshot_id}-{shot.sha256[:12]}.png"',
            "X-Content-SHA256": shot.sha256,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )


# --- alerts and triage ----------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    session: SessionDep,
    clinic: OptionalText = None,
    source: OptionalText = None,
    kind: OptionalText = None,
    indication: OptionalText = None,
    severity: OptionalText = None,
    state: OptionalText = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    require_read(request)
    clinic_id, source_id = _optional_id(clinic, "clinic"), _optional_id(source, "source")
    chosen_kind, chosen_severity = _choice(kind, KINDS, "alert kind"), _choice(severity, SEVERITIES, "severity")
    chosen_state = _choice(state, STATES, "triage state")
    result = triaged_alerts_page(
        session,
        limit=ALERTS_PER_PAGE,
        offset=offset,
        clinic_id=clinic_id,
        source_id=source_id,
        kind=chosen_kind,
        indication=indication or None,
        severity=chosen_severity,
        state=chosen_state,
        since=parse_when(since or None),
        until=parse_when(until or None, end_of_day=True),
    )
    filters = {
        "clinic": clinic_id,
        "source": source_id,
        "kind": chosen_kind,
        "indication": indication or None,
        "severity": chosen_severity,
        "state": chosen_state,
        "since": since or None,
        "until": until or None,
    }
    everything = source_overview(session)  # for the page and indication choices
    return render(
        request,
        "alerts.html",
        {
            "nav": "alerts",
            "alerts": result["items"],
            "next_offset": result["next_offset"],
            "offset": offset,
            "previous_offset": max(0, offset - ALERTS_PER_PAGE) if offset else None,
            "filters": filters,
            "clinics": list_clinics(session),
            "kinds": KINDS,
            "severities": SEVERITIES,
            "states": STATES,
            "indications": _known_indications(session, everything),
            "sources": [(r["id"], r["url"]) for r in everything],
        },
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, session: SessionDep, alert_id: str) -> Response:
    require_read(request)
    alert = alert_with_triage(session, _id(alert_id, "alert"))
    return render(request, "alert.html", {"nav": "alerts", "alert": alert})


@router.post("/alerts/{alert_id}/triage")
def triage(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    alert_id: str,
    action: Annotated[str, Form(max_length=20)],
    csrf: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    web = current_session(request)
    check_csrf(request, web, csrf, _secret(request), public_url=settings.public_url)
    if not settings.api_token:
        raise HTTPException(403, "triage is disabled: set WATCHER_API_TOKEN on the server")
    if web.author is None:
        raise HTTPException(403, "log in with the team token to triage alerts")
    if action not in ACTIONS:
        raise InputError(f"unknown triage action {action!r}")
    number = _id(alert_id, "alert")
    record_triage(session, number, action=action, author=web.author, note=note)
    return RedirectResponse(safe_next(next_url, f"/alerts/{number}"), status_code=303)


# --- search ---------------------------------------------------------------------------------------


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=MAX_TERM_CHARS)] = None,
    clinic: OptionalText = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    require_read(request)
    clinic_id = _optional_id(clinic, "clinic")
    hits = None
    if q and q.strip():
        hits = search(
            session,
            q,
            clinic_id=clinic_id,
            since=parse_when(since or None),
            until=parse_when(until or None, end_of_day=True),
            limit=100,
        )
    return render(
        request,
        "search.html",
        {
            "nav": "search",
            "q": q or "",
            "hits": hits,
            "clinics": list_clinics(session),
            "filters": {"clinic": clinic_id, "since": since or "", "until": until or ""},
        },
    )


# --- login ----------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next_url: Annotated[str | None, Query(alias="next", max_length=2000)] = None
) -> Response:
    return render(request, "login.html", {"nav": "login", "next": safe_next(next_url), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    settings: SettingsDep,
    author: Annotated[str, Form(max_length=200)] = "",
    token: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(alias="csrf_token", max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "",
) -> Response:
    check_csrf(request, current_session(request), csrf, _secret(request), public_url=settings.public_url)
    target = safe_next(next_url)
    name = author.strip()
    error, status, retry_after = None, 403, None
    if not settings.api_token:
        error = "Logging in is disabled: WATCHER_API_TOKEN is not set on the server."
    elif not name or any(ord(ch) < 32 for ch in name):
        error = "Type your name: it is recorded with every triage action."
    else:
        error, status, retry_after = _check_login_token(request, settings, token)
    if error is not None:
        response = render(
            request, "login.html", {"nav": "login", "next": target, "error": error, "author": name}, status=status
        )
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    _replace_session(request, new_session(author=name))  # a new session id: no fixation
    return RedirectResponse(target, status_code=303)


def _check_login_token(request: Request, settings: Settings, token: str) -> tuple[str | None, int, int | None]:
    """(error, status, Retry-After) of a login attempt's token; throttled clients are not compared."""
    throttle, client = throttle_of(request), client_of(request)
    wait = throttle.retry_after(client)
    if wait is not None:
        return f"Too many failed logins: try again in {wait} s.", 429, wait
    if not token_matches(settings, token):
        throttle.failed(client, where="dashboard login")
        return "That token is not the team token.", 403, None
    throttle.succeeded(client)
    return None, 200, None


@router.post("/logout")
def logout(
    request: Request, settings: SettingsDep, csrf: Annotated[str, Form(alias="csrf_token", max_length=200)] = ""
) -> Response:
    check_csrf(request, current_session(request), csrf, _secret(request), public_url=settings.public_url)
    _replace_session(request, new_session())
    return RedirectResponse("/", status_code=303)
