"""`watcher check` end to end: the real CLI, the real spider subprocess, a real local HTTP server,
on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import itertools
import os
import pty
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from waiting import STARTUP_SECONDS

from watcher.db import Store
from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.models import TextVersion

ARTICLE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>幹細胞上清液と不眠</title></head>
<body><header><nav><a href="/">トップ</a> <a href="/price/">料金</a></nav></header>
<main><article><h1>幹細胞培養上清液と不眠症</h1>
<p>{claim}</p>
<h2>参考文献</h2><ul><li>Sato K, et al. Sleep and secretome. Sleep Med. 2020;12:34-40. doi:10.1016/j.sleep.2020.01.001</li></ul>
</article></main>
<footer><form><input type="hidden" name="csrf_token" value="{{{{csrf_token}}}}"></form>
<p>訪問者 {{{{visitor_count}}}} 人 / {{{{served_at}}}}</p></footer></body></html>"""
CLAIM_1 = "培養上清液の点滴は、不眠症の改善につながる可能性があります。効果には個人差があります。"
CLAIM_2 = "培養上清液の点滴で、不眠症が改善することが臨床的に証明されています。効果には個人差があります。"
SJIS_PAGE = (
    '<html><head><meta charset="Shift_JIS"><title>ＮＭＮ点滴のご案内</title></head><body><main>'
    "<h1>ＮＭＮ点滴のご案内</h1><p>ＮＭＮ点滴は慢性疲労の軽減が期待されています。①予約制です。</p>"
    "</main></body></html>"
)
CHALLENGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    b"<noscript>Enable JavaScript and cookies to continue</noscript>"
    b'<div id="cf-chl-widget"></div><script src="/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1">'
    b"</script></body></html>"
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[VersionedSite]:
    root = tmp_path / "site"
    page = root / "clinic" / "insomnia"
    page.mkdir(parents=True)
    (page / "1.html").write_text(ARTICLE.format(claim=CLAIM_1), encoding="utf-8")
    (page / "2.html").write_text(ARTICLE.format(claim=CLAIM_2), encoding="utf-8")
    sjis = root / "clinic" / "nmn"
    sjis.mkdir(parents=True)
    (sjis / "1.sjis.html").write_bytes(SJIS_PAGE.encode("cp932"))
    counter = itertools.count(1)

    def noisy(info: RequestInfo) -> RouteResult:
        # No validators and fresh noise on every request: only text comparison can tell it is unchanged.
        body = ARTICLE.format(claim=CLAIM_1).replace("{{csrf_token}}", secrets.token_hex(8))
        body = body.replace("{{visitor_count}}", str(next(counter))).replace("{{served_at}}", secrets.token_hex(4))
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode("utf-8")

    with VersionedSite(root=root) as server:
        server.route("/noisy/", noisy)
        server.route("/broken/", lambda info: (500, {"Content-Type": "text/html"}, b"<h1>Internal Server Error</h1>"))
        server.route(
            "/challenge/", lambda info: (403, {"Content-Type": "text/html", "Server": "cloudflare"}, CHALLENGE)
        )
        server.route("/moved/", lambda info: (301, {"Location": server.url("/clinic/insomnia/")}, b""))
        yield server


def on_a_terminal(*args: str, **env: str) -> str:
    """``watcher ARGS`` in a subprocess whose stdout is a pseudo-terminal; what it wrote there."""
    controller, terminal = pty.openpty()
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "watcher.cli", *args],
            stdout=terminal,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        ) as process:
            os.close(terminal)
            terminal = -1
            output = bytearray()
            with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
                while chunk := os.read(controller, 65536):
                    output += chunk
            assert process.wait(timeout=STARTUP_SECONDS) == 0
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    return output.decode("utf-8", "replace")


def test_check_history_diff(site: VersionedSite, run_cli, store: Store) -> None:  # type: ignore[no-untyped-def]
    paths = ["/clinic/insomnia/", "/clinic/nmn/", "/noisy/", "/broken/", "/challenge/", "/moved/"]
    added = run_cli("sources", "add", *[site.url(p) for p in paths], "--clinic", "Test Clinic", "--json")
    assert added.code == 0, added.err
    ids = {row["url"]: row["id"] for row in added.json()}

    first = run_cli("check", "--json")
    assert first.code == 0, first.err
    by_path = {row["url"].split(str(site.port))[1]: row for row in first.json()}
    assert {p: r["outcome"] for p, r in by_path.items()} == {
        "/clinic/insomnia/": "changed",
        "/clinic/nmn/": "changed",
        "/noisy/": "changed",
        "/broken/": "error",
        "/challenge/": "blocked",
        "/moved/": "changed",
    }
    assert by_path["/broken/"]["http_status"] == 500 and by_path["/broken/"]["snapshot_id"] is None
    assert by_path["/challenge/"]["http_status"] == 403
    assert site.hits["/broken/"] > 1, "a 500 is transient and must be retried"
    assert all(set(row) >= {"url", "outcome", "http_status", "snapshot_id"} for row in first.json())

    second = run_cli("check", "--json").json()
    outcomes = {row["url"].split(str(site.port))[1]: row["outcome"] for row in second}
    assert outcomes["/clinic/insomnia/"] == "not_modified"
    assert outcomes["/noisy/"] == "unchanged", "a rotating token and a visitor counter are not a change"
    assert all(row["snapshot_id"] is None for row in second)

    site.round = 2
    third = {row["url"].split(str(site.port))[1]: row for row in run_cli("check", "--json").json()}
    assert third["/clinic/insomnia/"]["outcome"] == "changed"

    page_id = str(ids[site.url("/clinic/insomnia/")])
    history = run_cli("history", page_id, "--json").json()
    assert set(history) >= {"source", "checks", "snapshots"}
    assert [c["outcome"] for c in history["checks"]] == ["changed", "not_modified", "changed"]
    assert all(set(c) >= {"id", "checked_at", "outcome", "http_status"} for c in history["checks"])
    assert len(history["snapshots"]) == 2
    assert all(len(s["sha256"]) == 64 and s["fetched_at"] for s in history["snapshots"])

    diff = run_cli("diff", page_id, "--json").json()
    inserted = "".join(op["text"] for op in diff["ops"] if op["op"] == "insert")
    assert "臨床的に証明" in inserted and diff["inserted_chars"] > 0
    readable = run_cli("diff", site.url("/clinic/insomnia/"))
    assert readable.code == 0 and "{+" in readable.out and "証明" in readable.out
    first_snap, second_snap = (s["id"] for s in history["snapshots"])
    explicit = run_cli("diff", page_id, "--from", str(first_snap), "--to", str(second_snap), "--json").json()
    assert explicit["ops"] == diff["ops"]
    assert "not a snapshot of source" in run_cli("diff", page_id, "--from", "999999").err
    # On a terminal the marked characters are coloured, unless NO_COLOR is set (https://no-color.org).
    assert "\x1b[" in on_a_terminal("diff", page_id)
    coloured_off = on_a_terminal("diff", page_id, NO_COLOR="1")
    assert "{+" in coloured_off and "\x1b[" not in coloured_off

    moved = run_cli("history", str(ids[site.url("/moved/")]), "--json").json()
    assert moved["checks"][0]["final_url"] == site.url("/clinic/insomnia/")

    with store.session() as session:
        sjis_text = session.scalars(
            select(TextVersion.text).where(TextVersion.source_id == ids[site.url("/clinic/nmn/")])
        ).one()
    # ① exists only in cp932 (not strict Shift_JIS); NFKC then folds it to 1.
    assert "慢性疲労の軽減が期待されています" in sjis_text and "1予約制です" in sjis_text and "\ufffd" not in sjis_text


def test_check_refuses_loopback_without_permission(
    site: VersionedSite,
    run_cli,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_cli("sources", "add", site.url("/clinic/insomnia/")).code == 0
    monkeypatch.setenv("WATCHER_ALLOWED_NETWORKS", "")
    result = run_cli("check", "--json")
    assert result.code == 0, "a refused fetch is a recorded check, not a failed command"
    row = result.json()[0]
    assert row["outcome"] == "error" and "refused" in (row["error"] or "").lower()
    assert site.hits.get("/clinic/insomnia/", 0) == 0
