"""Per-source CSS selectors and the extraction doubt, end to end on both databases: the real CLI, the
crawl subprocess and a local HTTP server. Selectors on add, set, seeds and the API; a bad selector is
one line; a change of selectors re-derives the texts silently and the next check compares with them;
the doubt in `watcher history`, the API and the dashboard; discovered pages inherit a site's options."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from watcher.config import Settings
from watcher.db import Store
from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.extract import EXTRACTOR_VERSION, Selectors, extractor_version
from watcher.models import Alert, Change, Check, Source, TextVersion
from watcher.pipeline.discover import record_discovered
from watcher.web.app import create_app

TOKEN = "selectors-test-token"

PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>院長ブログ</title></head>
<body><header><a href="/">トップ</a></header><main><article><h1>エクソソーム点滴について</h1>
<div class="entry"><p>{entry}</p><p class="note">記事の内容は二〇二四年の時点のものです。</p></div>
<div class="campaign"><p>{campaign}</p></div>{links}</article></main><footer>医療法人 架空会</footer></body></html>"""
ENTRY = (
    "当院のエクソソーム点滴は、うつ病の症状の改善が期待されています。治療の前には必ず医師が丁寧にお話を"
    "うかがい、副作用や費用についてもご説明しています。"
)
ENTRY_CLAIM = ENTRY + "エクソソーム点滴は統合失調症の陰性症状を改善します。"
CAMPAIGN = "春の特別キャンペーン実施中です。初回の点滴が割引になります。お気軽にお電話ください。"
CAMPAIGN_CLAIM = "春の特別キャンペーン実施中です。エクソソーム点滴は自閉症を改善します。お気軽にお電話ください。"
LEAD = "こちらは当院の再生医療外来についてのご案内ページです。ご予約とご相談はお電話で承っております。"
LONG = "".join(f"<p>{ENTRY}</p>" for _ in range(15))


def page(entry: str, campaign: str, links: str = "") -> bytes:
    return PAGE.format(entry=entry, campaign=campaign, links=links).encode("utf-8")


@pytest.fixture
def clinic() -> Iterator[tuple[VersionedSite, dict[str, str]]]:
    state = {"entry": ENTRY, "campaign": CAMPAIGN}
    with VersionedSite() as site:

        def blog(info: RequestInfo) -> RouteResult:
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page(state["entry"], state["campaign"])

        def long(info: RequestInfo) -> RouteResult:
            body = f'<!doctype html><html><body><main><p class="lead">{LEAD}</p>{LONG}</main></body></html>'
            return 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode("utf-8")

        def listing(info: RequestInfo) -> RouteResult:
            links = '<ul><li><a href="/posts/a/">記事A</a></li></ul>'
            return 200, {"Content-Type": "text/html; charset=utf-8"}, page(ENTRY, CAMPAIGN, links)

        site.route("/blog/", blog)
        site.route("/long/", long)
        site.route("/list/", listing)
        site.route("/posts/a/", blog)
        yield site, state


def texts(store: Store, source_id: int) -> list[TextVersion]:
    with store.session() as session:
        rows = session.scalars(
            select(TextVersion).where(TextVersion.source_id == source_id).order_by(TextVersion.id)
        ).all()
        session.expunge_all()
        return list(rows)


def count(store: Store, model: Any) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def one_line_error(result: Any) -> str:
    assert result.code == 2, (result.out, result.err)
    assert result.err.startswith("error: ") and result.err.count("\n") == 1, result.err
    return str(result.err)


def test_selector_change_rederives_silently_and_the_next_check_compares_with_it(
    clinic: tuple[VersionedSite, dict[str, str]], run_cli: Any, store: Store
) -> None:
    site, state = clinic
    added = run_cli("sources", "add", site.url("/blog/"), "--clinic", "架空クリニック", "--json")
    assert added.code == 0, added.err
    source_id = added.json()["id"]
    assert run_cli("check", "--json").json()[0]["outcome"] == "changed"
    [heuristic] = texts(store, source_id)
    assert heuristic.extractor_version == EXTRACTOR_VERSION
    assert "キャンペーン" in heuristic.text and "時点" in heuristic.text  # the heuristics keep both blocks

    changed = run_cli("sources", "set", str(source_id), "--select", ".entry", "--drop", ".entry .note")
    assert changed.code == 0, changed.err
    assert "select .entry, drop .entry .note" in changed.out
    assert "re-extracted 1 text version(s)" in changed.out
    version = extractor_version(Selectors.parse(select=[".entry"], drop=[".entry .note"]))
    rederived = [v for v in texts(store, source_id) if v.extractor_version == version]
    assert len(rederived) == 1 and rederived[0].snapshot_id == heuristic.snapshot_id
    assert "うつ病" in rederived[0].text and "キャンペーン" not in rederived[0].text and "時点" not in rederived[0].text
    assert count(store, Alert) == 0 and count(store, Change) == 0  # silent: no alert, no change

    # Only the campaign block changes (with a claim in it): under the selectors the text is the same.
    state["campaign"] = CAMPAIGN_CLAIM
    assert run_cli("check", "--json").json()[0]["outcome"] == "unchanged"
    assert count(store, Alert) == 0
    timeline = run_cli("history", str(source_id), "--json").json()
    assert [s["extractor_version"] for s in timeline["snapshots"]] == [version]

    # The selected text changes: a change against the re-derived text, and its claim alerts.
    state["entry"] = ENTRY_CLAIM
    assert run_cli("check", "--json").json()[0]["outcome"] == "changed"
    with store.session() as session:
        [change] = session.scalars(select(Change)).all()
        inserted = "".join(str(text) for op, text in change.ops if op == 1)
        deleted = "".join(str(text) for op, text in change.ops if op == -1)
        assert "統合失調症" in inserted and "キャンペーン" not in inserted + deleted
        assert session.scalar(select(Alert.indication).where(Alert.kind == "new_indication")) == "schizophrenia"
    assert [v.extractor_version for v in texts(store, source_id)] == [EXTRACTOR_VERSION, version, version]

    # Clearing the selectors re-derives again, to the heuristics' version, still without alerts.
    alerts = count(store, Alert)
    cleared = run_cli("sources", "set", site.url("/blog/"), "--clear-selectors", "--json")
    assert cleared.code == 0, cleared.err
    assert cleared.json()["select"] == [] and cleared.json()["drop"] == []
    assert count(store, Alert) == alerts
    assert sum(v.extractor_version == EXTRACTOR_VERSION for v in texts(store, source_id)) == 2


def test_doubtful_extraction_in_history_api_and_dashboard(
    clinic: tuple[VersionedSite, dict[str, str]], run_cli: Any, store: Store, settings: Settings
) -> None:
    site, _state = clinic
    added = run_cli("sources", "add", site.url("/long/"), "--select", ".lead", "--json")
    assert added.code == 0, added.err
    doubtful = added.json()["id"]
    plain = run_cli("sources", "add", site.url("/blog/"), "--json").json()["id"]
    assert [row["outcome"] for row in run_cli("check", "--json").json()] == ["changed", "changed"]
    assert run_cli("check", str(doubtful), "--json").json()[0]["outcome"] == "unchanged"
    text = run_cli("history", str(doubtful))
    assert text.code == 0, text.err
    assert text.out.count("doubtful extraction: main text is under a tenth of the page's visible text") == 2
    checks = run_cli("history", str(doubtful), "--json").json()["checks"]
    assert [c["extraction_doubt"] for c in checks] == ["main text is under a tenth of the page's visible text"] * 2
    # The heuristics keep most of /blog/'s prose: no doubt there.
    assert [c["extraction_doubt"] for c in run_cli("history", str(plain), "--json").json()["checks"]] == [None]
    with store.session() as session:
        assert session.scalar(select(TextVersion.extraction_doubt).where(TextVersion.source_id == doubtful))

    with TestClient(create_app(replace(settings, api_token=TOKEN))) as client:  # type: ignore[arg-type]
        api = client.get(f"/api/sources/{doubtful}/checks").json()
        assert {c["extraction_doubt"] for c in api["items"]} == {
            "main text is under a tenth of the page's visible text"
        }
        html = client.get(f"/sources/{doubtful}").text
        assert "Doubtful extraction: main text is under a tenth" in html
        assert "main text by CSS:" in html and "<code>.lead</code>" in html
        assert "Doubtful extraction" not in client.get(f"/sources/{plain}").text


def test_discovered_pages_inherit_a_sites_selectors(
    clinic: tuple[VersionedSite, dict[str, str]], run_cli: Any, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, _state = clinic
    monkeypatch.setenv("WATCHER_OBEY_ROBOTS", "0")
    added = run_cli("sources", "add", site.url("/list/"), "--site", "--select", ".entry", "--json")
    assert added.code == 0, added.err
    site_id = added.json()["id"]
    results = {row["url"]: row for row in run_cli("check", "--json").json()}
    # The listing itself is extracted without the selectors (they are for its pages).
    assert results[site.url("/list/")]["outcome"] == "changed"
    assert results[site.url("/posts/a/")]["outcome"] == "changed"
    with store.session() as session:
        page_source = session.scalar(select(Source).where(Source.url == site.url("/posts/a/")))
        assert page_source is not None and page_source.discovered_from_id == site_id
        page_id = page_source.id
        assert page_source.selectors == {"select": [".entry"], "drop": []}
    [listing] = texts(store, site_id)
    assert listing.extractor_version == EXTRACTOR_VERSION
    [post] = texts(store, page_id)
    assert post.extractor_version == extractor_version(Selectors.parse(select=[".entry"]))
    assert "うつ病" in post.text and "キャンペーン" not in post.text

    # A site's new selectors go to the pages that still had its old ones, re-derived silently.
    changed = run_cli("sources", "set", str(site_id), "--drop", ".note", "--json")
    assert changed.code == 0, changed.err
    pages = run_cli("sources", "list", "--json").json()
    assert {row["id"]: (row["select"], row["drop"]) for row in pages if row["id"] in (site_id, page_id)} == {
        site_id: ([".entry"], [".note"]),
        page_id: ([".entry"], [".note"]),
    }
    newest = texts(store, page_id)[-1]
    assert newest.extractor_version == extractor_version(Selectors.parse(select=[".entry"], drop=[".note"]))
    assert "時点" not in newest.text
    assert count(store, Alert) == 0


def test_discovered_pages_inherit_rendering_and_screenshots(store: Store) -> None:
    with store.session() as session:
        site = Source(
            url="https://clinic.example/blog/",
            kind="site",
            render=True,
            screenshot=True,
            selectors={"select": ["#content"], "drop": []},
            selectors_key=Selectors.parse(select=["#content"]).key,
        )
        plain = Source(url="https://other.example/blog/", kind="site")
        session.add_all([site, plain])
        session.flush()
        [child] = record_discovered(
            session, site, ["https://clinic.example/blog/p1"], depth=1, found_on=site.url, baseline=True
        )
        [other] = record_discovered(
            session, plain, ["https://other.example/blog/p1"], depth=1, found_on=plain.url, baseline=True
        )
        session.flush()
        assert (child.render, child.screenshot, child.selectors, child.selectors_key) == (
            True,
            True,
            {"select": ["#content"], "drop": []},
            site.selectors_key,
        )
        assert (other.render, other.screenshot, other.selectors, other.selectors_key) == (False, False, None, None)


def test_selectors_on_add_set_and_seeds_bad_ones_one_line(run_cli: Any, store: Store, tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/page"
    message = one_line_error(run_cli("sources", "add", url, "--select", "div["))
    assert "invalid CSS selector 'div['" in message
    assert run_cli("sources", "list", "--json").json() == []

    added = run_cli(
        "sources", "add", url, "--select", " article .body ", "--select", "h1", "--drop", ".ad, .sns", "--json"
    )
    assert added.code == 0, added.err
    assert (added.json()["select"], added.json()["drop"]) == (["article .body", "h1"], [".ad, .sns"])
    assert "invalid CSS selector" in one_line_error(run_cli("sources", "set", url, "--drop", "p:::"))
    assert "nothing to set" in one_line_error(run_cli("sources", "set", url))
    kept = run_cli("sources", "set", url, "--select", "#main", "--json").json()
    assert (kept["select"], kept["drop"]) == (["#main"], [".ad, .sns"])  # --select replaces select only
    swapped = run_cli("sources", "set", url, "--clear-selectors", "--drop", "aside", "--json").json()
    assert (swapped["select"], swapped["drop"]) == ([], ["aside"])
    with store.session() as session:
        source = session.scalar(select(Source))
        assert source is not None and source.selectors_key == Selectors.parse(drop=["aside"]).key

    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(
        "sources:\n  - url: http://127.0.0.1:9/seeded\n    select: '#content'\n"
        "    drop: [.related, footer]\n    render: true\n",
        encoding="utf-8",
    )
    imported = run_cli("sources", "import", str(seeds), "--json")
    assert imported.code == 0, imported.err
    [row] = imported.json()["added"]
    assert (row["select"], row["drop"], row["render"], row["screenshot"]) == (
        ["#content"],
        [".related", "footer"],
        True,
        True,
    )
    seeds.write_text("sources:\n  - url: http://127.0.0.1:9/other\n    drop: 'p >> q'\n", encoding="utf-8")
    assert "entry 1: invalid CSS selector" in one_line_error(run_cli("sources", "import", str(seeds)))


def test_api_add_source_with_rendering_and_selectors(settings: Settings, store: Store) -> None:
    with TestClient(create_app(replace(settings, api_token=TOKEN))) as client:  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {TOKEN}"}
        created = client.post(
            "/api/sources",
            headers=headers,
            json={"url": "http://127.0.0.1:9/api-page", "render": True, "select": [".entry"], "drop": [".note"]},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert (body["render"], body["screenshot"], body["select"], body["drop"]) == (True, True, [".entry"], [".note"])
        shot = client.post("/api/sources", headers=headers, json={"url": "http://127.0.0.1:9/shot", "screenshot": True})
        assert (shot.json()["render"], shot.json()["screenshot"]) == (False, True)
        bad = client.post("/api/sources", headers=headers, json={"url": "http://127.0.0.1:9/bad", "select": ["a[["]})
        assert bad.status_code == 400 and "invalid CSS selector" in bad.json()["detail"]
        assert client.get(f"/api/sources/{body['id']}").json()["select"] == [".entry"]
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Source)) == 2
        assert session.scalar(select(func.count()).select_from(Check)) == 0
