"""The regulator's report (``watcher.queries.regulation``) as a file: a self-contained HTML page (its
own inline stylesheet, no links to fetch, every page text escaped), CSV or JSON. Shared by
``watcher report`` and the dashboard's ``/clinics/{id}/report`` downloads."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from watcher.export import to_csv
from watcher.queries.regulation import ROW_COLUMNS, report_rows
from watcher.web.templating import make_templates

REPORT_FORMATS = ("html", "csv", "json")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json"}


def report_text(report: dict[str, Any], fmt: str, *, generated: datetime, excel: bool = False) -> str:
    """``report`` as ``fmt`` (html, csv or json); ``excel``: a CSV for Excel (byte-order mark, CRLF)."""
    if fmt == "json":
        return json.dumps({**report, "generated_at": generated.isoformat()}, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        return to_csv(report_rows(report), columns=ROW_COLUMNS, excel=excel)
    template = make_templates().env.get_template("report_file.html")
    return template.render(report=report, generated=generated)


def report_filename(report: dict[str, Any], fmt: str) -> str:
    return f"clinic-{report['clinic_id']}-advertising-report.{fmt}"
