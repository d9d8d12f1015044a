"""Screenshots of the dashboard's main pages into docs/screenshots/: each page at 1366×768 (full page),
and the main ones again at 390×844, a phone's width, as ``phone-NAME.png``.

Run from the repository root:  .venv/bin/python docs/screenshots/make_screenshots.py

It builds a throw-away SQLite history with the test factories (two clinics, several versions, a
failed check, alerts and a malicious page), serves the app with uvicorn on 127.0.0.1, logs in with
a token and drives Debian's Chromium (/usr/bin/chromium) with Playwright. Japanese text needs a
Japanese system font (Debian: fonts-noto-cjk); the dashboard downloads no fonts.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests"))

from dashboard_factory import build_dashboard_history  # noqa: E402
from live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from sqlalchemy import select  # noqa: E402

from watcher.config import load_settings  # noqa: E402
from watcher.db import Store  # noqa: E402
from watcher.models import Snapshot  # noqa: E402
from watcher.web.app import create_app  # noqa: E402

TOKEN = "screenshot-token"
PHONE_PAGES = ("overview", "clinic-drift", "matrix", "diff-inline", "diff-side-by-side", "alerts")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = replace(
            load_settings({}), data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/watcher.db", api_token=TOKEN
        )
        store = Store(settings.database_url)
        history = build_dashboard_history(store, settings)
        base = history.base
        with store.session() as session:
            a = [
                s.id
                for s in session.scalars(
                    select(Snapshot).where(Snapshot.source_id == base.a).order_by(Snapshot.fetched_at)
                )
            ]
        store.dispose()
        pages = {
            "overview": "/",
            "clinic-drift": "/clinics/1",
            "matrix": "/matrix",
            "page-history": f"/sources/{base.a}",
            "diff-inline": f"/sources/{base.a}/diff?from={a[0]}&to={a[1]}",
            "diff-side-by-side": f"/sources/{base.b}/diff?view=side",
            "version": f"/snapshots/{a[1]}?q=統合失調症",
            "alerts": "/alerts",
            "alert-triage": "/alerts/2",
            "search": "/search?q=統合失調症",
            "malicious-page-diff": f"/sources/{history.evil}/diff",
        }
        with LiveServer(create_app(settings)) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{server.url}/login")
            page.screenshot(path=str(HERE / "login.png"))
            page.fill("#author", "Sato (desk)")
            page.fill("#token", TOKEN)
            page.click("form.login-form button[type=submit]")
            page.goto(f"{server.url}/alerts/1")
            page.click("button[value=acknowledge]")
            for name, path in pages.items():
                page.goto(server.url + path)
                page.screenshot(path=str(HERE / f"{name}.png"), full_page=True)
                print(f"docs/screenshots/{name}.png  {path}")
            page.set_viewport_size({"width": 390, "height": 844})
            for name in PHONE_PAGES:
                page.goto(server.url + pages[name])
                page.screenshot(path=str(HERE / f"phone-{name}.png"), full_page=True)
                print(f"docs/screenshots/phone-{name}.png  {pages[name]}")
            browser.close()


if __name__ == "__main__":
    main()
