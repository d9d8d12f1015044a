"""Benchmark: CPU and wall time per rendered check vs per static check, and screenshot bytes per version.

Serves N clinic-like pages from watcher's own VersionedSite on 127.0.0.2, each both as a static page
and as a script-built one (the same text written by JavaScript into an empty ``#app``), adds them as
sources — static, ``--screenshot`` (static + a screenshot) and ``--render`` — and runs the real
``watcher check --json`` in a subprocess per kind and round: round 1 (every page new: a snapshot and
a screenshot each), round 2 (every page changed: a second version each). CPU seconds are user + system
of the whole process tree (the CLI, its crawl child, Playwright's driver and Chromium), read with
``getrusage(RUSAGE_CHILDREN)`` around each run.

    .venv/bin/python benchmarks/render_checks.py --pages 20

Politeness delays are zero and AutoThrottle off: the server is our own, on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from watcher.demo.site import RequestInfo, RouteResult, VersionedSite
from watcher.models import Screenshot

TREATMENTS = ["exosome infusion", "stem-cell culture supernatant", "NMN drip", "TMS", "high-dose vitamin C"]
CONDITIONS = ["depression", "insomnia", "chronic fatigue", "migraine", "anxiety", "autism", "schizophrenia"]
STATIC = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:auto}} h1{{color:#245}}</style></head>
<body><header><nav><a href="/">Home</a> · <a href="/menu/">Treatments</a> · <a href="/access/">Access</a></nav></header>
<main>{main}</main><footer><p>Clinic Example, 1-2-3 Fictional Street</p></footer></body></html>"""
SCRIPTED = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:auto}} h1{{color:#245}}</style></head>
<body><div id="app"></div><noscript>Please enable JavaScript.</noscript>
<script>document.getElementById("app").innerHTML = {main};</script></body></html>"""


def main_html(index: int, version: int) -> tuple[str, str]:
    treatment = TREATMENTS[index % len(TREATMENTS)]
    condition = CONDITIONS[index % len(CONDITIONS)]
    verb = "may ease" if version == 1 else "is clinically proven to cure"
    paragraphs = "".join(
        f"<p>Our {treatment} {verb} {condition} in adults (note {index}-{n}); every course starts with a "
        f"consultation, and results differ from one patient to another.</p>"
        for n in range(12)
    )
    title = f"{treatment} and {condition} ({index})"
    return title, f"<h1>{title}</h1>{paragraphs}"


def run_check(env: dict[str, str], refs: list[str]) -> tuple[float, float, list[dict[str, object]]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "watcher.cli", "check", "--json", *refs],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    version = {"n": 1}

    def static(info: RequestInfo) -> RouteResult:
        title, body = main_html(int(info.path.strip("/").split("/")[1]), version["n"])
        return 200, {"Content-Type": "text/html; charset=utf-8"}, STATIC.format(title=title, main=body).encode()

    def scripted(info: RequestInfo) -> RouteResult:
        title, body = main_html(int(info.path.strip("/").split("/")[1]), version["n"])
        page = SCRIPTED.format(title=title, main=json.dumps(body))
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode()

    with tempfile.TemporaryDirectory() as data, VersionedSite(host="127.0.0.2") as site:
        for index in range(args.pages):
            site.route(f"/static/{index}/", static)
            site.route(f"/shot/{index}/", static)
            site.route(f"/app/{index}/", scripted)
        env = {
            **os.environ,
            "WATCHER_DATA_DIR": data,
            "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
            "WATCHER_DOWNLOAD_DELAY": "0",
            "WATCHER_AUTOTHROTTLE": "0",
            "WATCHER_OBEY_ROBOTS": "0",
            "WATCHER_LOG_LEVEL": "ERROR",
        }
        kinds = {
            "static": ("/static/", []),
            "screenshot": ("/shot/", ["--screenshot"]),
            "render": ("/app/", ["--render"]),
        }
        refs: dict[str, list[str]] = {}
        for kind, (prefix, flags) in kinds.items():
            urls = [site.url(f"{prefix}{i}/") for i in range(args.pages)]
            subprocess.run(
                [sys.executable, "-m", "watcher.cli", "sources", "add", *urls, *flags],
                env=env,
                capture_output=True,
                check=True,
            )
            refs[kind] = urls
        results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
        for round_number in (1, 2):
            version["n"] = round_number
            for kind in kinds:
                wall, cpu, rows = run_check(env, refs[kind])
                outcomes = {str(row["outcome"]) for row in rows}
                assert outcomes == {"changed"}, (kind, round_number, outcomes, rows[:2])
                results[kind].append((wall, cpu))
        engine = create_engine(f"sqlite:///{data}/watcher.db")
        with Session(engine) as session:
            count, total, largest = session.execute(
                select(func.count(Screenshot.id), func.sum(Screenshot.size), func.max(Screenshot.size))
            ).one()
        engine.dispose()
    print(f"pages per kind: {args.pages}; two rounds, every check a new version")
    print(f"{'kind':<11} {'round':>5} {'wall s':>8} {'CPU s':>8} {'wall/check ms':>14} {'CPU/check ms':>13}")
    for kind, rounds in results.items():
        for number, (wall, cpu) in enumerate(rounds, 1):
            print(
                f"{kind:<11} {number:>5} {wall:>8.2f} {cpu:>8.2f} {1000 * wall / args.pages:>14.0f} "
                f"{1000 * cpu / args.pages:>13.0f}"
            )
    print(
        f"screenshots: {count}, {total / max(count, 1) / 1024:.1f} KiB per version on average, "
        f"largest {largest / 1024:.1f} KiB"
    )


if __name__ == "__main__":
    main()
