"""Benchmark: one round of `watcher check` over N local pages, then a second round with 10% changed.

Serves generated clinic-like pages (Japanese + English, nav/sidebar/footer, rotating token and visitor
counter) from watcher's own VersionedSite on loopback, runs the real CLI in a subprocess for each round,
and reports wall time, CPU seconds and peak memory of the CLI process tree, and the bytes the database
grew by per unchanged and per changed check.

    .venv/bin/python benchmarks/capture_rounds.py --pages 500 --changed 0.10

Politeness delays are set to zero: the server is our own, on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from watcher.demo.site import VersionedSite
from watcher.models import Check

CONDITIONS = ["うつ病", "不安障害", "不眠症", "慢性疲労症候群", "片頭痛", "認知症", "パーキンソン病", "脳卒中後遺症"]
TREATMENTS = ["エクソソーム点滴", "幹細胞培養上清液", "NMN点滴", "TMS治療", "高濃度ビタミンC点滴"]
TEMPLATE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif}}</style><script>var t="{{{{csrf_token}}}}";</script></head><body>
<header><nav><ul><li><a href="/">ホーム</a></li><li><a href="/about/">クリニック紹介</a></li>
<li><a href="/menu/">診療メニュー</a></li><li><a href="/access/">アクセス</a></li></ul></nav></header>
<main><article><h1>{title}</h1><p class="date">2026.0{month}.1{day}</p>
{paragraphs}
<h2>適応可能な症状</h2><ul>{items}</ul>
<h2>参考文献</h2><ul><li>Tanaka H, et al. Extracellular vesicles in mood disorders. J Neuroinflammation. 2021;18:{page}. doi:10.1186/s12974-021-0{page}</li></ul>
</article></main>
<aside><h3>最近の投稿</h3><ul><li><a href="/p/1">院長ブログ更新のお知らせ</a></li><li><a href="/p/2">年末年始の診療について</a></li></ul></aside>
<footer><form><input type="hidden" name="csrf" value="{{{{csrf_token}}}}"></form>
<p>〒460-0000 名古屋市中区 架空町1-2-3 / 訪問者数 {{{{visitor_count}}}} / 生成 {{{{served_at}}}}</p></footer>
</body></html>"""


def page_html(index: int, version: int, rng: random.Random) -> str:
    treatment = TREATMENTS[index % len(TREATMENTS)]
    condition = CONDITIONS[index % len(CONDITIONS)]
    verb = "改善する可能性があります" if version == 1 else "改善することが臨床的に証明されています"
    paragraphs = "\n".join(
        f"<p>{treatment}は{condition}の症状を{verb}。当院では{rng.randint(10, 99)}名の方に実施してきました。"
        f"This therapy may support recovery; results vary between patients (case {index}-{n}).</p>"
        for n in range(12)
    )
    items = "".join(f"<li>{c}</li>" for c in CONDITIONS[: 3 + index % 4 + (version - 1)])
    return TEMPLATE.format(
        title=f"{treatment}と{condition}について(記事{index})",
        paragraphs=paragraphs,
        items=items,
        month=1 + index % 9,
        day=index % 10,
        page=100 + index % 800,
    )


def changed_pages(pages: int, changed: float) -> set[int]:
    """The indices of the pages that have a second version (the same for every script and tool)."""
    return set(random.Random(42).sample(range(pages), int(pages * changed)))


def build_site(root: Path, pages: int, changed: float) -> None:
    changed_set = changed_pages(pages, changed)
    for index in range(pages):
        folder = root / "bench" / f"page-{index:05d}"
        folder.mkdir(parents=True)
        (folder / "1.html").write_text(page_html(index, 1, random.Random(index)), encoding="utf-8")
        if index in changed_set:
            (folder / "2.html").write_text(page_html(index, 2, random.Random(index)), encoding="utf-8")


def edited(page: bytes) -> bytes:
    """The page with its middle paragraph's text replaced (the same length, other characters)."""
    middle = len(page) // 2
    start = page.find(b"<p", middle)
    start = page.find(b">", start) + 1 if start >= 0 else -1
    end = page.find(b"</p>", start) if start > 0 else -1
    if start <= 0 or end < 0:
        return page[:middle] + b" An edited sentence about a new treatment, inserted here. " + page[middle:]
    text = page[start:end]
    return page[:start] + bytes(reversed(text)).swapcase() + page[end:]


def claim_inserted(page: bytes) -> bytes:
    """The page with a strengthened claim written at the start of its middle paragraph (the page's bytes
    otherwise untouched, so it stays valid UTF-8 and well-formed where it was)."""
    start = page.find(b"<p", len(page) // 2)
    while start >= 0 and page[start + 2 : start + 3] not in (b">", b" "):  # <p> or <p class=...>, not <path
        start = page.find(b"<p", start + 2)
    at = page.find(b">", start) + 1 if start >= 0 else len(page) // 2
    return page[:at] + b"This treatment is now proven to cure depression. " + page[at:]


def build_real_site(root: Path, pages_dir: Path, changed: float) -> int:
    """The real pages of a folder of ``*.html.gz`` files (the article-extraction benchmark's: real layouts,
    21 KB to 1.5 MB), one URL each in name order, at the generated site's URLs; the same share as
    ``build_site`` gets a second version with a claim written into its middle paragraph. Returns the number
    of pages. Nothing of them is copied into the project: they are read from the benchmark's folder."""
    files = sorted(pages_dir.glob("*.html.gz"))
    if not files:
        raise SystemExit(f"no *.html.gz pages in {pages_dir}")
    changed_set = changed_pages(len(files), changed)
    for index, path in enumerate(files):
        folder = root / "bench" / f"page-{index:05d}"
        folder.mkdir(parents=True)
        page = gzip.decompress(path.read_bytes())
        (folder / "1.html").write_bytes(page)
        if index in changed_set:
            (folder / "2.html").write_bytes(claim_inserted(page))
    return len(files)


def database_bytes(path: Path) -> int:
    """Size of the SQLite file after folding the WAL into it (so rounds compare like for like)."""
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path.stat().st_size


def forget_validators(db_path: Path) -> None:
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE sources SET etag = NULL, last_modified = NULL")
    engine.dispose()


def add_page_sources(site: VersionedSite, pages: int, env: dict[str, str]) -> None:
    """Add the site's N generated pages as sources, with the real CLI (200 URLs per call)."""
    urls = [site.url(f"/bench/page-{i:05d}/") for i in range(pages)]
    for start in range(0, len(urls), 200):
        subprocess.run(
            [sys.executable, "-m", "watcher.cli", "sources", "add", *urls[start : start + 200]],
            env=env,
            check=True,
            capture_output=True,
        )


def run_round(env: dict[str, str]) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "watcher.cli", "check", "--json"], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"watcher check failed: {proc.stderr.strip().splitlines()[-1:]}")
    results = json.loads(proc.stdout)
    outcomes: dict[str, int] = {}
    for row in results:
        outcomes[row["outcome"]] = outcomes.get(row["outcome"], 0) + 1
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_mib": after.ru_maxrss / 1024,
        **{f"n_{k}": v for k, v in outcomes.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument(
        "--unconditional",
        action="store_true",
        help="forget ETag/Last-Modified before each round, so every page is downloaded and "
        "compared on its extracted text (a server that ignores conditional requests)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmp:
        root = Path(tmp) / "site"
        build_site(root, args.pages, args.changed)
        db_path = Path(tmp) / "bench.db"
        env = {
            **os.environ,
            "WATCHER_DATABASE_URL": f"sqlite:///{db_path}",
            "WATCHER_DOWNLOAD_DELAY": "0",
            "WATCHER_AUTOTHROTTLE": "0",
            "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
            "WATCHER_LOG_LEVEL": "WARNING",
            "WATCHER_CONCURRENT_REQUESTS": "16",
        }
        with VersionedSite(root=root) as site:
            add_page_sources(site, args.pages, env)
            size0 = database_bytes(db_path)
            first = run_round(env)
            size1 = database_bytes(db_path)
            site.round = 2
            if args.unconditional:
                forget_validators(db_path)
            second = run_round(env)
            size2 = database_bytes(db_path)
            if args.unconditional:
                forget_validators(db_path)
            third = run_round(env)  # nothing changed since round 2: every check is a row and nothing else
            size3 = database_bytes(db_path)
        engine = create_engine(f"sqlite:///{db_path}")
        with Session(engine) as session:
            checks = session.scalar(select(func.count()).select_from(Check))
        engine.dispose()
    per_unchanged = (size3 - size2) / args.pages
    changed2 = second.get("n_changed", 0)
    per_changed = ((size2 - size1) - (args.pages - changed2) * per_unchanged) / max(changed2, 1)
    report = {
        "pages": args.pages,
        "unconditional": args.unconditional,
        "round1": first,
        "round2": second,
        "round3_nothing_changed": third,
        "checks_total": checks,
        "db_bytes": {"after_sources": size0, "after_round1": size1, "after_round2": size2, "after_round3": size3},
        "bytes_per_first_capture": round((size1 - size0) / args.pages),
        "bytes_per_unchanged_check": round(per_unchanged),
        "bytes_per_changed_check": round(per_changed),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
