"""What every router of the app shares: the store and settings (``app.state``), a session per
request, and the bearer-token rules of the JSON API.

Tokens: writes need ``Authorization: Bearer $WATCHER_API_TOKEN``; with the token unset, writes are
disabled (403 saying so). Reads are open unless ``WATCHER_API_READ_TOKEN_REQUIRED=1``, which makes
them need the same token. A wrong token counts as a failed login (``watcher.web.throttle``): too
many, and the client gets 429 with ``Retry-After`` before its token is even compared.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from watcher.config import Settings
from watcher.db import Store
from watcher.web.throttle import check_not_throttled, client_of, throttle_of

_bearer = HTTPBearer(auto_error=False, description="WATCHER_API_TOKEN")


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(store: Annotated[Store, Depends(get_store)]) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with store.session() as session:
        yield session


# "function" scope: commit (or roll back) before the response is sent, so a failed commit is an error answer.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token_matches(request: Request, settings: Settings, credentials: HTTPAuthorizationCredentials | None) -> bool:
    if credentials is None or not settings.api_token:
        return False
    check_not_throttled(request)
    matches = hmac.compare_digest(credentials.credentials.encode("utf-8"), settings.api_token.encode("utf-8"))
    if matches:
        throttle_of(request).succeeded(client_of(request))
    else:
        throttle_of(request).failed(client_of(request), where=f"API {request.method} {request.url.path}")
    return matches


def _challenge(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def require_write(request: Request, settings: SettingsDep, credentials: Credentials) -> None:
    if not settings.api_token:
        raise HTTPException(
            status_code=403,
            detail="writes are disabled: set WATCHER_API_TOKEN on the server "
            "and send it as 'Authorization: Bearer TOKEN'",
        )
    if credentials is None:
        raise _challenge("this endpoint needs 'Authorization: Bearer TOKEN' (WATCHER_API_TOKEN)")
    if not _token_matches(request, settings, credentials):
        raise HTTPException(status_code=403, detail="wrong API token")


def require_read(request: Request, settings: SettingsDep, credentials: Credentials) -> None:
    if not settings.api_read_token_required:
        return
    if not settings.api_token:
        raise HTTPException(
            status_code=403,
            detail="reads need a token (WATCHER_API_READ_TOKEN_REQUIRED) "
            "but WATCHER_API_TOKEN is not set on the server",
        )
    if credentials is None:
        raise _challenge("reads need 'Authorization: Bearer TOKEN' (WATCHER_API_READ_TOKEN_REQUIRED is on)")
    if not _token_matches(request, settings, credentials):
        raise HTTPException(status_code=403, detail="wrong API token")
