"""One-click unsubscribe (RFC 8058) for the links in every alert e-mail's List-Unsubscribe header.

``GET /unsubscribe/{token}`` shows a confirmation form (mail scanners follow GET links, so GET never
unsubscribes); ``POST /unsubscribe/{token}`` (the form, or a mail client's ``List-Unsubscribe=One-Click``)
deactivates the subscription and cancels its pending deliveries. The secret token in the link is the
only credential (no API token: the reader of a mail has none).
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from watcher.errors import NotFoundError
from watcher.models import Subscription
from watcher.subscriptions import unsubscribe
from watcher.web.feeds import StoreDep

router = APIRouter(tags=["subscriptions"])

_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>watcher: unsubscribe</title></head>
<body style="font-family:sans-serif;max-width:640px">{body}</body></html>"""
_INVALID = "This unsubscribe link is not valid, or the subscription has already been cancelled."


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(body=body), status_code=status)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse, summary="Confirm unsubscribing")
def confirm_unsubscribe(token: str, store: StoreDep) -> HTMLResponse:
    with store.session() as session:
        subscription = session.scalar(
            select(Subscription).where(Subscription.unsubscribe_token == token, Subscription.active.is_(True))
        )
        if subscription is None:
            return _page(f"<p>{_INVALID}</p>", 404)
        email, mode = subscription.email, subscription.mode
    return _page(
        f"<p>Stop sending watcher alerts ({escape(mode)}) to <b>{escape(email)}</b>?</p>"
        f'<form method="post"><button type="submit" name="List-Unsubscribe" value="One-Click">'
        f"Unsubscribe</button></form>"
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse, summary="Unsubscribe (one click)")
def do_unsubscribe(token: str, store: StoreDep) -> HTMLResponse:
    try:
        with store.session() as session:
            removed = unsubscribe(session, token, token_only=True)
            emails = sorted({s.email for s in removed})
    except NotFoundError:
        return _page(f"<p>{_INVALID}</p>", 404)
    return _page(
        f"<p>Unsubscribed: {escape(', '.join(emails))} will receive no more watcher alerts from this subscription.</p>"
    )
