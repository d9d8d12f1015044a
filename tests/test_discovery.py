"""Site sources: link extraction from sitemaps, feeds and blog indexes (pure), and discovery end to end
(real CLI, real crawl subprocess, real local server, SQLite and PostgreSQL): same site only, bounds,
include/exclude, robots.txt, the baseline rule, new_page and clinic-level new_indication alerts."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from watcher.db import Store
from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.errors import InputError
from watcher.links import (
    MAX_DOCUMENT_URLS,
    DocumentError,
    candidate_urls,
    html_links,
    parse_entry,
    robots_allows,
    same_site,
)
from watcher.models import Alert, Check, Source
from watcher.sources import SiteOptions, site_options

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*entries: str | tuple[str, str]) -> bytes:
    items = []
    for entry in entries:
        loc, lastmod = (entry, "") if isinstance(entry, str) else entry
        items.append(f"<url><loc>{loc}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "") + "</url>")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {NS}>{"".join(items)}</urlset>'.encode()


def sitemap_index(*locs: str) -> bytes:
    items = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex {NS}>{items}</sitemapindex>'.encode()


# --- pure parts ---------------------------------------------------------------------------------


def test_sitemap_urlset_index_gzip_and_newest_first() -> None:
    body = urlset(
        ("https://c.example/old/", "2023-01-01"),
        "https://c.example/undated/",
        ("https://c.example/new/", "2025-06-01T09:00:00+09:00"),
    )
    doc = parse_entry(body, content_type="application/xml", url="https://c.example/sitemap.xml", max_bytes=10**6)
    assert doc.kind == "urlset"
    assert doc.urls == ("https://c.example/new/", "https://c.example/old/", "https://c.example/undated/")
    assert doc.text().splitlines() == ["# sitemap", *doc.urls]
    index = parse_entry(
        gzip.compress(sitemap_index("https://c.example/a.xml", "/b.xml")),
        content_type=None,
        url="https://c.example/sitemap_index.xml",
        max_bytes=10**6,
    )
    assert index.is_index and index.urls == ("https://c.example/a.xml", "https://c.example/b.xml")


def test_feeds_and_html_links() -> None:
    rss = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><link>https://c.example/</link>'
        b"<item><title>t</title><link>https://c.example/p/1/</link></item></channel></rss>"
    )
    assert parse_entry(
        rss, content_type="application/rss+xml", url="https://c.example/feed/", max_bytes=10**6
    ).urls == ("https://c.example/p/1/",)
    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><link href="https://c.example/"/>'
        b'<entry><link rel="alternate" href="/p/2/"/><link rel="edit" href="/wp/edit/2"/></entry></feed>'
    )
    assert parse_entry(atom, content_type=None, url="https://c.example/atom.xml", max_bytes=10**6).urls == (
        "https://c.example/p/2/",
    )
    page = (
        '<html><head><base href="https://c.example/blog/"></head><body><a href="post-1/">1</a>'
        '<a href="/post-2/#comments">2</a><a href="mailto:x@c.example">m</a><a href="javascript:void(0)">j</a>'
        '<a href="#top">top</a><map><area href="https://other.example/x"></map><a>no href</a></body></html>'
    )
    assert html_links(page.encode(), content_type="text/html", base_url="https://c.example/") == [
        "https://c.example/blog/post-1/",
        "https://c.example/post-2/#comments",
        "https://other.example/x",
    ]
    assert parse_entry(b"", content_type="text/html", url="https://c.example/", max_bytes=10).urls == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'<?xml version="1.0"?><urlset><url><loc>https://c.example/a</loc></url', "not well-formed XML"),
        (b'<?xml version="1.0"?>\n<urlset <<<', "not well-formed XML"),
        (b'<?xml version="1.0"?><rss><channel><title>no items</title></channel>', "not well-formed XML"),
        (b"\x1f\x8b\x08\x00garbage", "not valid gzip"),
    ],
)
def test_bad_sitemaps_are_one_line_errors(body: bytes, message: str) -> None:
    with pytest.raises(DocumentError, match=message) as caught:
        parse_entry(body, content_type="application/xml", url="https://c.example/sitemap.xml", max_bytes=10**6)
    assert "\n" not in str(caught.value)


def test_sitemap_bounds_and_hostile_xml() -> None:
    bomb = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    with pytest.raises(DocumentError, match="larger than 1000000 bytes") as caught:
        parse_entry(bomb, content_type=None, url="https://c.example/s.xml.gz", max_bytes=1_000_000)
    assert caught.value.kind == "too_large"
    huge = urlset(*(f"https://c.example/p/{i}" for i in range(MAX_DOCUMENT_URLS + 5)))
    doc = parse_entry(huge, content_type=None, url="https://c.example/s.xml", max_bytes=len(huge))
    assert len(doc.urls) == MAX_DOCUMENT_URLS and doc.ignored == 5
    # No external entities, no network, no expansion.
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<urlset><url><loc>https://c.example/&x;</loc></url></urlset>"
    )
    parsed = parse_entry(xxe, content_type=None, url="https://c.example/s.xml", max_bytes=10**6)
    assert all("root:" not in url for url in parsed.urls)
    # A bare "&" (common in hand-made sitemaps) is recovered, not fatal.
    sloppy = b'<?xml version="1.0"?><urlset><url><loc>https://c.example/?a=1&b=2</loc></url></urlset>'
    assert parse_entry(sloppy, content_type=None, url="https://c.example/s.xml", max_bytes=10**6).urls


def test_same_site_and_candidates() -> None:
    assert same_site("https://www.c.example/a", "http://c.example/sitemap.xml")
    assert not same_site("https://c.example:8443/a", "https://c.example/")
    assert not same_site("https://evil.example/c.example/", "https://c.example/")
    options = site_options(include=[r"/(posts|news)/"], exclude=[r"/posts/draft-"])
    skipped: Counter[str] = Counter()
    found = candidate_urls(
        [
            "https://c.example/posts/1/",
            "https://c.example/posts/1/#c",
            "/relative-is-invalid",
            "https://c.example/about/",
            "https://c.example/posts/draft-2/",
            "https://other.example/posts/3/",
            "https://c.example/posts/file.pdf",
            "https://c.example/wp-admin/x",
            "https://c.example/news/?s=q",
            "https://c.example/news/4/",
            "https://c.example/blog/",
        ],
        site_urls=["https://c.example/blog/"],
        options=options,
        skipped=skipped,
    )
    assert found == ["https://c.example/posts/1/", "https://c.example/news/4/"]
    assert skipped == Counter({"invalid": 1, "not_included": 1, "excluded": 1, "off_site": 1, "default_exclude": 3})
    allowed, disallowed = robots_allows(
        "User-agent: *\nDisallow: /private/\n", ["https://c.example/a", "https://c.example/private/b"], agent="watcher"
    )
    assert (allowed, disallowed) == (["https://c.example/a"], ["https://c.example/private/b"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"include": ["("]}, "invalid --include pattern '(': missing ), unterminated subpattern"),
        ({"exclude": ["[a-"]}, "invalid --exclude pattern '[a-'"),
        ({"max_depth": 0}, "invalid --max-depth 0"),
        ({"max_pages": 100_001}, "invalid --max-pages 100001"),
    ],
)
def test_site_options_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as caught:
        site_options(**kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert SiteOptions.from_json({"max_pages": "many"}) == SiteOptions()  # damaged stored options


# --- end to end ---------------------------------------------------------------------------------

PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{title}</title></head>
<body><nav><a href="/">トップ</a></nav><main><article><h1>{title}</h1><p>{text}</p>{links}</article></main>
<footer>{{{{served_at}}}}</footer></body></html>"""
ONE = "当院のエクソソーム点滴は、うつ病の症状の改善が期待されています。多くの方にご利用いただいています。"
TWO = "当院の再生医療外来のご案内です。診療時間と予約の方法、料金について詳しくご説明します。"
THREE = "当院のエクソソーム点滴は統合失調症の陰性症状を改善します。うつ病にも効果があります。モニター募集中です。"


def write_page(root: Path, path: str, version: int, title: str, text: str, links: str = "") -> None:
    folder = root / path.strip("/")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{version}.html").write_text(PAGE.format(title=title, text=text, links=links), encoding="utf-8")


@pytest.fixture
def clinic_site(tmp_path: Path) -> Iterator[VersionedSite]:
    root = tmp_path / "site"
    write_page(root, "/posts/one/", 1, "エクソソーム点滴とうつ病", ONE)
    write_page(root, "/posts/two/", 1, "再生医療外来のご案内", TWO)
    write_page(root, "/posts/three/", 2, "【新着】統合失調症とエクソソーム", THREE)
    write_page(root, "/private/secret/", 1, "非公開", ONE)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    with VersionedSite(root=root) as site:

        def posts_sitemap(info: RequestInfo) -> RouteResult:
            entries = [
                site.url("/posts/one/"),
                site.url("/posts/two/"),
                site.url("/private/secret/"),
                site.url("/posts/offsite/", host="localhost"),
                site.url("/feed/"),
            ]
            if info.round >= 2:
                entries.append(site.url("/posts/three/"))
            return 200, {"Content-Type": "application/x-gzip"}, gzip.compress(urlset(*entries))

        index = sitemap_index(site.url("/sitemap-posts.xml.gz"), site.url("/sitemap-x.xml", host="localhost"))
        site.route("/sitemap_index.xml", lambda info: (200, {"Content-Type": "application/xml"}, index))
        site.route("/sitemap-posts.xml.gz", posts_sitemap)
        site.route(
            "/broken-sitemap.xml",
            lambda info: (200, {"Content-Type": "application/xml"}, b'<?xml version="1.0"?>\n<urlset <<< oops'),
        )
        yield site


def test_sitemap_index_discovery_baseline_then_new_page(
    clinic_site: VersionedSite,
    run_cli,  # type: ignore[no-untyped-def]
    store: Store,
) -> None:
    site = clinic_site
    added = run_cli(
        "sources",
        "add",
        site.url("/sitemap_index.xml"),
        site.url("/broken-sitemap.xml"),
        "--site",
        "--clinic",
        "Test Clinic",
        "--max-pages",
        "10",
        "--json",
    )
    assert added.code == 0, added.err
    site_id = added.json()[0]["id"]
    assert added.json()[0]["options"] == {"max_depth": 1, "max_pages": 10, "include": [], "exclude": []}

    first = run_cli("check", "--json")
    assert first.code == 0, first.err
    outcomes = {row["url"].split(str(site.port))[1]: (row["outcome"], row["error"]) for row in first.json()}
    assert outcomes["/sitemap_index.xml"][0] == "changed"
    assert outcomes["/broken-sitemap.xml"][0] == "error"
    assert "not well-formed XML" in outcomes["/broken-sitemap.xml"][1]
    # The discovered pages are checked in the same run.
    assert outcomes["/posts/one/"] == ("changed", None) and outcomes["/posts/two/"] == ("changed", None)
    with store.session() as session:
        discovered = session.scalars(select(Source).where(Source.discovered_from_id == site_id)).all()
        assert {s.url for s in discovered} == {site.url("/posts/one/"), site.url("/posts/two/")}
        assert all(s.kind == "page" and s.clinic is not None and s.clinic.name == "Test Clinic" for s in discovered)
        assert all(
            s.options == {"discovery": {"depth": 1, "found_on": site.url("/sitemap_index.xml"), "baseline": True}}
            for s in discovered
        )
        broken = session.scalars(select(Check).where(Check.source_id == added.json()[1]["id"])).one()
        assert broken.error_kind == "bad_sitemap"
        assert session.scalars(select(Alert)).all() == [], "the first discovery is the baseline: no alerts"
    assert site.hits["/private/secret/"] == 0, "robots.txt disallows it: never fetched"
    assert site.hits["/feed/"] == 0 and site.hits["/sitemap-x.xml"] == 0

    site.round = 2
    second = run_cli("check", "--json")
    assert second.code == 0, second.err
    rows = {row["url"].split(str(site.port))[1]: row for row in second.json()}
    assert rows["/posts/three/"]["outcome"] == "changed"
    alerts = run_cli("alerts", "--json").json()
    kinds = {(a["kind"], a["indication"], a["scope"]) for a in alerts}
    assert kinds == {
        ("new_page", None, "page"),
        ("trial_or_monitor_recruitment", None, "page"),
        ("new_indication", "schizophrenia", "clinic"),
    }, alerts
    assert all(a["source_url"] == site.url("/posts/three/") for a in alerts)
    with store.session() as session:
        page_alert = session.scalars(select(Alert).where(Alert.kind == "new_page")).one()
        details = page_alert.details
        assert details["indications"]["schizophrenia"]["strength"] == 3
        assert details["indications"]["depression"]["strength"] == 3
        assert "統合失調症の陰性症状を改善します" in details["indications"]["schizophrenia"]["evidence"][0]
        assert details["discovered_from"] == site.url("/sitemap_index.xml")
        assert page_alert.new_snapshot_id is not None and page_alert.old_snapshot_id is None
        clinic_alert = session.scalars(select(Alert).where(Alert.kind == "new_indication")).one()
        assert clinic_alert.details["scope"] == "clinic" and clinic_alert.details["clinic"] == "Test Clinic"


@pytest.fixture
def blog_site(tmp_path: Path) -> Iterator[VersionedSite]:
    root = tmp_path / "site"
    listing = (
        '<ul><li><a href="/posts/a/">A</a></li><li><a href="/posts/b/#respond">B</a></li>'
        '<li><a href="/tag/x/">tag</a></li><li><a href="/about/">about</a></li>'
        '<li><a href="/news/n1/">news</a></li><li><a href="{offsite}">elsewhere</a></li>'
        '<li><a href="mailto:info@c.example">mail</a></li></ul>'
    )
    for path, text, links in [
        ("/posts/a/", ONE, '<a href="/posts/deep/">deeper</a> <a href="/posts/e/">e</a>'),
        ("/posts/b/", TWO, ""),
        ("/news/n1/", TWO, ""),
        ("/posts/deep/", TWO, '<a href="/posts/deeper/">x</a>'),
        ("/posts/e/", TWO, ""),
        ("/tag/x/", TWO, ""),
        ("/about/", TWO, ""),
    ]:
        write_page(root, path, 1, path, text, links)
    with VersionedSite(root=root) as site:
        write_page(
            root,
            "/blog/",
            1,
            "ブログ一覧",
            "当院のブログ記事の一覧です。新しい記事から順に表示しています。診療に関するお知らせもこちらに掲載します。",
            listing.format(offsite=site.url("/posts/c/", host="localhost")),
        )
        yield site


def test_blog_index_depth_bounds_include_exclude(
    blog_site: VersionedSite,
    run_cli,  # type: ignore[no-untyped-def]
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = blog_site
    monkeypatch.setenv("WATCHER_OBEY_ROBOTS", "0")  # robots.txt is the sitemap test's subject; one crawl less
    added = run_cli(
        "sources",
        "add",
        site.url("/blog/"),
        "--site",
        "--max-depth",
        "2",
        "--max-pages",
        "4",
        "--include",
        "/(posts|news)/",
        "--exclude",
        "/tag/",
        "--json",
    )
    assert added.code == 0, added.err
    result = run_cli("check", "--json")
    assert result.code == 0, result.err
    checked = {row["url"].split(str(site.port))[1] for row in result.json()}
    assert checked == {"/blog/", "/posts/a/", "/posts/b/", "/news/n1/", "/posts/deep/"}
    with store.session() as session:
        rows = session.scalars(select(Source).where(Source.discovered_from_id == added.json()["id"])).all()
        depth = {s.url.split(str(site.port))[1]: s.options["discovery"]["depth"] for s in rows}
        assert all(s.options["discovery"]["baseline"] for s in rows)
    # Depth 1 from the listing, depth 2 from /posts/a/; /posts/e/ would be the 5th page (max 4), and
    # /posts/deeper/ is 3 hops away (max 2).
    assert depth == {"/posts/a/": 1, "/posts/b/": 1, "/news/n1/": 1, "/posts/deep/": 2}
    assert site.hits["/tag/x/"] == site.hits["/about/"] == site.hits["/posts/e/"] == site.hits["/posts/deeper/"] == 0
    assert run_cli("alerts", "--json").json() == []


def test_sources_add_site_options_errors(run_cli) -> None:  # type: ignore[no-untyped-def]
    bad = run_cli("sources", "add", "https://c.example/sitemap.xml", "--site", "--include", "(")
    assert bad.code == 2 and bad.err.count("\n") == 1
    assert "invalid --include pattern '('" in bad.err
    no_site = run_cli("sources", "add", "https://c.example/page", "--max-pages", "3")
    assert no_site.code == 2 and "need --site" in no_site.err
    depth = run_cli("sources", "add", "https://c.example/sitemap.xml", "--site", "--max-depth", "9")
    assert depth.code == 2 and "invalid --max-depth 9: use 1 to 5" in depth.err
    assert run_cli("sources", "list", "--json").json() == []
