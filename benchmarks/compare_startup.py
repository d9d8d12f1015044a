"""Wall time of ``watcher compare OLD_FILE NEW_FILE`` on two small pages, as a user runs it: a fresh
process each time (interpreter start, imports, settings, extraction, analysis, output).

Also lists the modules the command loaded that it must not load (the database, SQLAlchemy, Alembic,
the web stack, Scrapy) and the slowest imports from ``python -X importtime``.

    .venv/bin/python benchmarks/compare_startup.py --runs 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Two small clinic pages, written for this benchmark: a hedged claim becomes an assertion, one more
# condition is listed and a reference disappears.
OLD_PAGE = """<html><head><title>幹細胞上清液点滴について</title></head><body><main><article>
<h1>幹細胞上清液点滴</h1>
<p>当院の幹細胞上清液点滴は、慢性的な疲労感の軽減が期待されています。</p>
<p>うつ病の症状が和らぐ可能性があります。</p>
<h2>参考文献</h2><ul><li>Tanaka K, et al. Stem Cell Rep. 2020;15:101-110. doi:10.1000/example.2020.15</li></ul>
</article></main></body></html>
"""
NEW_PAGE = """<html><head><title>幹細胞上清液点滴について</title></head><body><main><article>
<h1>幹細胞上清液点滴</h1>
<p>当院の幹細胞上清液点滴は、慢性的な疲労感を改善します。</p>
<p>うつ病と不安障害に効果があります。</p>
</article></main></body></html>
"""
FORBIDDEN = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "jinja2", "scrapy", "twisted", "psycopg")


def watcher_command() -> list[str]:
    return [str(Path(sys.executable).with_name("watcher"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        old, new = Path(work) / "old.html", Path(work) / "new.html"
        old.write_text(OLD_PAGE, encoding="utf-8")
        new.write_text(NEW_PAGE, encoding="utf-8")
        command = [*watcher_command(), "compare", str(old), str(new)]
        env = {key: value for key, value in os.environ.items() if not key.startswith("WATCHER_")}
        first = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        print(f"findings:\n{first.stdout.rstrip()}\n")
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run(command, env=env, capture_output=True, check=True)
            times.append(time.perf_counter() - started)
        print(
            f"watcher compare, {args.runs} runs: min {min(times):.3f} s, median {statistics.median(times):.3f} s, "
            f"mean {statistics.fmean(times):.3f} s, max {max(times):.3f} s"
        )
        traced = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "watcher.cli", "compare", str(old), str(new)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    rows = []
    for line in traced.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self" in line:
            continue
        _label, self_us, cumulative_us, raw_name = line.replace(":", "|", 1).split("|")
        # One space before a module imported by nobody else; two more per level of nesting.
        depth = (len(raw_name) - len(raw_name.lstrip(" ")) - 1) // 2
        rows.append((int(cumulative_us), int(self_us), raw_name.strip(), depth))
    loaded = sorted({name for _c, _s, name, _d in rows if name.split(".")[0] in FORBIDDEN})
    print(f"forbidden modules loaded: {', '.join(loaded) if loaded else 'none'}")
    print("slowest top-level imports (cumulative ms):")
    top_level = [row for row in rows if row[3] == 0]
    for cumulative, _self, name, _depth in sorted(top_level, reverse=True)[:6]:
        print(f"  {cumulative / 1000:7.1f}  {name}")
    print("slowest watcher modules (self ms):")
    for _cumulative, self_us, name, _depth in sorted(
        (r for r in rows if r[2].startswith("watcher")), key=lambda r: -r[1]
    )[:5]:
        print(f"  {self_us / 1000:7.1f}  {name}")


if __name__ == "__main__":
    main()
