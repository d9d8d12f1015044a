"""The web application: ``create_app`` builds one Store and mounts the routers named in ``ROUTERS``.

Each module in ``ROUTERS`` exports ``router`` (a FastAPI ``APIRouter``); the JSON API lives under
``/api``, feeds and the dashboard add their own modules here (the dashboard serves ``/``). The
OpenAPI schema is at ``/openapi.json`` and its browsable docs at ``/api/docs``. Errors that watcher
raises on purpose become 4xx answers with a one-line ``detail``: NotFoundError 404, InputError 400,
DuplicateError 409; too many failed logins 429 (``watcher.web.throttle``); an unreachable database is
a 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import import_module
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from watcher import __version__
from watcher.config import Settings, load_settings
from watcher.db import Store
from watcher.errors import DuplicateError, InputError, NotFoundError, StoreError, WatcherError
from watcher.web.deps import document_security
from watcher.web.throttle import LoginThrottle, LoginThrottled

ROUTERS: tuple[str, ...] = ("watcher.web.api", "watcher.web.dashboard", "watcher.web.feeds", "watcher.web.unsubscribe")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(WatcherError)
    async def watcher_error(request: Request, error: WatcherError) -> JSONResponse:
        if isinstance(error, NotFoundError):
            return _error(404, str(error))
        if isinstance(error, DuplicateError):
            return _error(409, str(error))
        if isinstance(error, StoreError):
            return _error(503, str(error))
        if isinstance(error, InputError):
            return _error(400, str(error))
        return _error(400, str(error))

    @app.exception_handler(LoginThrottled)
    async def throttled(request: Request, error: LoginThrottled) -> JSONResponse:
        return JSONResponse(
            status_code=429, content={"detail": str(error)}, headers={"Retry-After": str(error.retry_after)}
        )

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, error: OperationalError) -> JSONResponse:
        first = str(error.orig or error).strip().splitlines()[0] if str(error.orig or error).strip() else "error"
        return _error(503, f"database unavailable: {first}")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    store = Store(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.dispose()

    app = FastAPI(
        title="watcher",
        version=__version__,
        summary="Claim-aware change tracking for clinic web pages: history, claims, alerts, search.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    install_error_handlers(app)
    for name in ROUTERS:
        app.include_router(import_module(name).router)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_security(default_openapi(), reads_need_token=settings.api_read_token_required)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
