"""The dashboard's defences: security headers, the session cookie, CSRF tokens and the token login.

* Headers on every dashboard response (``SECURITY_HEADERS``): a strict Content-Security-Policy (no
  script at all, styles and images from this origin only, forms post only here, no framing, no
  ``<base>``), ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (following a link
  to a clinic page tells the clinic nothing about the reader), and no caching of pages.
* The session cookie ``watcher_session`` (HttpOnly, SameSite=Strict, Path=/; Secure over https or when
  ``WATCHER_PUBLIC_URL`` is https) is
  a signed payload: a random session id, the time it was issued and, once logged in, the author
  name typed at login. Every visitor gets one (anonymous until login) so that every form, the login
  form included, carries a CSRF token: HMAC(secret, session id), checked on every POST together with
  the ``Sec-Fetch-Site`` and ``Origin`` headers (``Origin: null``, which no-referrer pages send for
  their own forms, is left to the token); a cross-site POST is refused with 403.
* Login: the author's name and ``WATCHER_API_TOKEN`` (compared in constant time). A login issues a
  new session id (no session fixation); sessions last ``SESSION_SECONDS``.
* The signing secret is derived from ``WATCHER_API_TOKEN`` (changing the token logs everyone out);
  with no token set there is nothing to log in to and a random per-process secret signs the
  anonymous sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mimetypes
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from watcher.config import Settings
from watcher.queries.snapshots import RawCapture

SESSION_COOKIE = "watcher_session"
SESSION_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

_PROCESS_SECRET = secrets.token_bytes(32)


class CsrfError(Exception):
    """A POST without a valid CSRF token, or from another site."""


@dataclass(frozen=True)
class DashboardSession:
    sid: str
    issued: int
    author: str | None = None  # set once logged in

    @property
    def logged_in(self) -> bool:
        return self.author is not None


def session_secret(settings: Settings) -> bytes:
    if not settings.api_token:
        return _PROCESS_SECRET
    return hmac.new(settings.api_token.encode("utf-8"), b"watcher dashboard session v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, purpose: str, payload: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}:{payload}".encode(), hashlib.sha256).digest())


def new_session(*, author: str | None = None) -> DashboardSession:
    return DashboardSession(sid=secrets.token_urlsafe(24), issued=int(time.time()), author=author)


def encode_session(session: DashboardSession, secret: bytes) -> str:
    payload = _b64(
        json.dumps(
            {"sid": session.sid, "iat": session.issued, "author": session.author},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
    )
    return f"{payload}.{_mac(secret, 'session', payload)}"


def decode_session(value: str | None, secret: bytes, *, now: float | None = None) -> DashboardSession | None:
    """The session in a cookie value, or None when it is missing, forged, malformed or expired."""
    if not value or len(value) > 2000 or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    if not hmac.compare_digest(mac, _mac(secret, "session", payload)):
        return None
    try:
        data = json.loads(_unb64(payload))
        session = DashboardSession(
            sid=str(data["sid"]),
            issued=int(data["iat"]),
            author=None if data["author"] is None else str(data["author"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    current = time.time() if now is None else now
    if not session.issued - 60 <= current <= session.issued + SESSION_SECONDS:
        return None
    return session


def csrf_token(session: DashboardSession, secret: bytes) -> str:
    return _mac(secret, "csrf", session.sid)


def token_matches(settings: Settings, token: str) -> bool:
    if not settings.api_token:
        return False
    return hmac.compare_digest(token.strip().encode("utf-8"), settings.api_token.encode("utf-8"))


def _same_origin(request: Request, origin: str, public_url: str) -> bool:
    """The Origin header names this server: the Host it was reached at, or the public URL (a proxy)."""
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return False
    host = request.headers.get("host", "").lower()
    public = urlsplit(public_url)
    return parts.netloc.lower() == host or (parts.scheme, parts.netloc.lower()) == (
        public.scheme,
        public.netloc.lower(),
    )


def check_csrf(
    request: Request, session: DashboardSession | None, submitted: str | None, secret: bytes, *, public_url: str
) -> None:
    """Refuse a POST that another site could have made: raises ``CsrfError``."""
    fetch_site = request.headers.get("sec-fetch-site", "").lower()
    if fetch_site not in ("", "same-origin", "none"):
        raise CsrfError("this form was sent from another site")
    origin = request.headers.get("origin")
    # With Referrer-Policy no-referrer, browsers send "Origin: null" even for our own forms; the
    # Sec-Fetch-Site check above and the token below decide then.
    if origin is not None and origin != "null" and not _same_origin(request, origin, public_url):
        raise CsrfError("this form was sent from another site")
    if session is None or not submitted:
        raise CsrfError("the form's security token is missing or your session expired: reload the page")
    if not hmac.compare_digest(submitted.encode("utf-8"), csrf_token(session, secret).encode("utf-8")):
        raise CsrfError("the form's security token is not valid for this session: reload the page")


def set_session_cookie(response: Response, request: Request, session: DashboardSession, secret: bytes) -> None:
    settings: Settings = request.app.state.settings
    secure = request.url.scheme == "https" or settings.public_url.startswith("https://")  # also behind a TLS proxy
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(session, secret),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )


def apply_security_headers(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to after a form: never another host (``//evil``, ``https://…``, ``\\``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target


_EXTENSIONS = {"text/html": ".html", "application/xhtml+xml": ".xhtml", "text/plain": ".txt", "application/pdf": ".pdf"}
RAW_MEDIA_TYPE = "application/octet-stream"


def raw_download(raw: RawCapture) -> Response:
    """Captured bytes as a download (dashboard and API alike). Captured pages are untrusted: never
    rendered on this origin — octet-stream, attachment, nosniff, and a sandboxing CSP in case a
    browser were to display them anyway. The file name's extension tells the captured type."""
    media = (raw.content_type or "").split(";")[0].strip().lower()
    extension = _EXTENSIONS.get(media) or mimetypes.guess_extension(media or RAW_MEDIA_TYPE) or ".bin"
    digest = base64.b64encode(bytes.fromhex(raw.sha256)).decode("ascii")
    return Response(
        content=raw.body,
        media_type=RAW_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="snapshot-{raw.snapshot_id}-{raw.sha256[:12]}{extension}"',
            "X-Content-SHA256": raw.sha256,
            "Repr-Digest": f"sha-256=:{digest}:",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "X-Content-Type-Options": "nosniff",
        },
    )
