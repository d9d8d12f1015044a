"""Clinics by id, or by name (exact, else case-insensitive) with a one-line error listing the known ones."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from watcher.errors import NotFoundError
from watcher.models import Clinic, Source


def get_clinic(session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise NotFoundError(f"no clinic {clinic_id}")
    return clinic


def resolve_clinic(session: Session, name: str) -> Clinic:
    wanted = name.strip()
    clinic = session.scalar(select(Clinic).where(Clinic.name == wanted))
    if clinic is None:
        matches = list(session.scalars(select(Clinic).where(func.lower(Clinic.name) == wanted.lower())))
        clinic = matches[0] if len(matches) == 1 else None
    if clinic is None:
        known = list(session.scalars(select(Clinic.name).order_by(Clinic.name).limit(10)))
        hint = f" (known: {', '.join(known)})" if known else " (no clinics yet)"
        raise NotFoundError(f"no clinic named {name!r}{hint}")
    return clinic


def list_clinics(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Clinic.id, Clinic.name, func.count(Source.id))
        .outerjoin(Source, Source.clinic_id == Clinic.id)
        .group_by(Clinic.id, Clinic.name)
        .order_by(Clinic.name)
    ).all()
    return [{"id": cid, "name": name, "sources": count} for cid, name, count in rows]
