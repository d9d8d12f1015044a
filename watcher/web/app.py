"""The web application: ``create_app`` builds one Store and mounts the routers of ``ROUTERS``.

Each module of ``ROUTERS`` exports ``router`` (a FastAPI ``APIRouter``); the JSON API lives under
``/api``, feeds and the dashboard have their own modules (the dashboard serves ``/``). The
OpenAPI schema is at ``/openapi.json`` and its browsable docs at ``/api/docs`` (Swagger UI from the
packaged ``swagger-ui-bundle-v2`` files: no CDN, so they work offline). ``HEAD`` is answered wherever
``GET`` is (uptime monitors use it). Errors that watcher
raises on purpose become 4xx answers with a one-line ``detail``: NotFoundError 404, InputError 400,
DuplicateError 409; too many failed logins 429 (``watcher.web.throttle``); an unreachable database is
a 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watcher import __version__
from watcher.config import Settings, load_settings
from watcher.db import Store
from watcher.errors import DuplicateError, InputError, NotFoundError, StoreError, WatcherError
from watcher.web import api, dashboard, feeds, unsubscribe
from watcher.web.deps import document_security
from watcher.web.throttle import LoginThrottle, LoginThrottled

ROUTERS: tuple[APIRouter, ...] = (api.router, dashboard.router, feeds.router, unsubscribe.router)


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


class HeadAsGet:
    """Answer ``HEAD`` like ``GET`` without the body (FastAPI routes declare GET only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
            elif not message.get("more_body"):  # one empty body ends the response
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, without_body)


DOCS_ASSETS = "/api/docs/assets"
_DOCS_PAGE = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>watcher API</title><link rel="stylesheet" href="{DOCS_ASSETS}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{DOCS_ASSETS}/swagger-ui-bundle.js"></script><script src="/api/docs/init.js"></script>
</body></html>"""
_DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout"});"""


def install_api_docs(app: FastAPI) -> None:
    """Swagger UI at /api/docs from the packaged files (scripts as files, none inline)."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE)

    @app.get("/api/docs/init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(_DOCS_INIT, media_type="text/javascript; charset=utf-8")


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
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.login_throttle = LoginThrottle.from_settings(settings)
    install_error_handlers(app)
    install_api_docs(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(HeadAsGet)
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_security(default_openapi(), reads_need_token=settings.api_read_token_required)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
