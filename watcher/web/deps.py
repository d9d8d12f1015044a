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
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.orm import Session

from watcher.config import Settings
from watcher.db import Store
from watcher.web.throttle import check_not_throttled, client_of, throttle_of

_bearer = HTTPBearer(auto_error=False, description="WATCHER_API_TOKEN")


class ErrorOut(BaseModel):
    detail: str


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


# Answers every /api operation may give besides its own: documented so that clients (and the
# schema-driven tests) can rely on the schema. 422 (schema violations) FastAPI documents itself.
_ERROR = {"model": ErrorOut}
READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "A value the schema admits but that means nothing (a URL, date or name)"},
    404: {**_ERROR, "description": "No such source, snapshot, alert or clinic"},
    503: {**_ERROR, "description": "The database is unavailable"},
}
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_ERROR, "description": "No bearer token"},
    403: {**_ERROR, "description": "Wrong token, or writes disabled (no WATCHER_API_TOKEN on the server)"},
    429: {
        **_ERROR,
        "description": "Too many failed logins from this client, or in all: see Retry-After",
        "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
    },
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_RESPONSES,
    **AUTH_RESPONSES,
    409: {**_ERROR, "description": "Already exists (a watched URL)"},
}


READ_GUARD = "x-watcher-read-guard"  # marks, until the schema is made, the operations behind require_read


def mark_read_guarded(router: APIRouter) -> None:
    """Mark the operations of a router whose dependencies include ``require_read`` (call it once
    they are all defined), so that ``document_security`` knows them."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            route.openapi_extra = {**(route.openapi_extra or {}), READ_GUARD: True}


def document_security(schema: dict[str, Any], *, reads_need_token: bool) -> dict[str, Any]:
    """Declare bearer security on the read operations too when ``WATCHER_API_READ_TOKEN_REQUIRED``
    is on (writes declare it through their dependency), with the answers that brings: exactly the
    operations marked by ``mark_read_guarded`` (the API's reads and the feeds; not unsubscribe links)."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    scheme = next(iter(schemes), "HTTPBearer")
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not operation.pop(READ_GUARD, False) or not reads_need_token or "security" in operation:
                continue
            schemes.setdefault(scheme, {"type": "http", "scheme": "bearer", "description": "WATCHER_API_TOKEN"})
            operation["security"] = [{scheme: []}]
            responses = operation.setdefault("responses", {})
            for status, answer in AUTH_RESPONSES.items():
                responses.setdefault(str(status), _openapi_response(answer))
    return schema


def _openapi_response(answer: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": answer["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    if "headers" in answer:
        out["headers"] = answer["headers"]
    return out


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


async def require_read(request: Request, settings: SettingsDep) -> None:
    # The header is read here rather than declared as a dependency: reads are open by default, and
    # the OpenAPI schema declares bearer security only where it is required (``document_security``).
    if not settings.api_read_token_required:
        return
    credentials = await _bearer(request)
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
