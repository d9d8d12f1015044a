"""Sources by page, and one source with the size of its history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from watcher.models import Check, Snapshot, Source
from watcher.queries.paging import check_page, page
from watcher.queries.snapshots import get_source
from watcher.sources import source_dict


def sources_page(session: Session, *, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    check_page(limit, offset)
    rows = session.scalars(
        select(Source).options(joinedload(Source.clinic)).order_by(Source.id).offset(offset).limit(limit + 1)
    ).all()
    return page([source_dict(s) for s in rows], limit=limit, offset=offset)


def source_info(session: Session, source_id: int) -> dict[str, Any]:
    found = get_source(session, source_id)
    data = source_dict(found)
    data["checks"] = session.scalar(select(func.count()).select_from(Check).where(Check.source_id == found.id))
    data["snapshots"] = session.scalar(select(func.count()).select_from(Snapshot).where(Snapshot.source_id == found.id))
    return data
