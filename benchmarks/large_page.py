"""Benchmark: peak memory and CPU of one pathological page, a 5 MB page on a single line.

Each kind of page is served by watcher's VersionedSite on 127.0.0.1 and checked twice by `watcher check`
(first capture, then a second version), each run in its own process; the figures are the process
tree's (RUSAGE_CHILDREN of a wrapper, as in peers.py): CPU seconds and the peak RSS of the largest
process. A baseline of the same checks on a small ordinary page is reported beside them, so that the
growth due to the page is visible.

    .venv/bin/python benchmarks/large_page.py [--megabytes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from peers import measured

from watcher.demo.site import RequestInfo, RouteResult, VersionedSite


def pages(size: int) -> dict[str, Callable[[int], bytes]]:
    """Each kind of page, as a function of its version (1, 2): one line each."""
    english = "This therapy may help depression. "
    japanese = "エクソソーム点滴はうつ病の症状を改善する可能性があります。"
    return {
        "small ordinary page": lambda v: f"<p>{english * 20}</p><p>version {v}</p>".encode(),
        "one paragraph of words, no full stop": lambda v: b"<p>" + b"word " * (size // 5) + f"v{v}</p>".encode(),
        "English sentences, one line": lambda v: ("<p>" + english * (size // len(english)) + f"v{v}</p>").encode(),
        "Japanese sentences, one line": lambda v: (
            "<p>" + japanese * (size // len(japanese.encode())) + f"v{v}</p>"
        ).encode(),
        "minified markup, 200k tags": lambda v: (
            "<div>" + "".join(f"<span>{english}</span>" for _ in range(size // 48)) + f"v{v}</div>"
        ).encode(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=5.0)
    args = parser.parse_args()
    size = int(args.megabytes * 1_000_000)
    print(f"| page ({args.megabytes:g} MB on one line) | round | outcome | CPU s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for name, body_of in pages(size).items():
        with tempfile.TemporaryDirectory(prefix="watcher-large-") as tmp:
            work = Path(tmp)
            version = {"n": 1}

            def serve(
                info: RequestInfo, body_of: Callable[[int], bytes] = body_of, version: dict[str, int] = version
            ) -> RouteResult:
                return 200, {"Content-Type": "text/html; charset=utf-8"}, body_of(version["n"])

            env = {
                **os.environ,
                "WATCHER_DATABASE_URL": f"sqlite:///{work / 'w.db'}",
                "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
                "WATCHER_LOG_LEVEL": "WARNING",
                "WATCHER_DOWNLOAD_DELAY": "0",
                "WATCHER_MAX_BODY_BYTES": str(4 * size + 1_000_000),
            }
            cli = [sys.executable, "-m", "watcher.cli"]
            with VersionedSite(root=work) as site:
                site.route("/page", serve)
                subprocess.run([*cli, "sources", "add", site.url("/page")], env=env, check=True, capture_output=True)
                for number in (1, 2):
                    version["n"] = number
                    log = work / f"round{number}.json"
                    stats = measured([*cli, "check", "--json"], env=env, cwd=work, log=log)
                    outcome = _outcome(log.read_text())
                    print(
                        f"| {name} | {number} | {outcome} | {stats['cpu_s']:.2f} | {stats['peak_rss_mib']:.0f} |",
                        flush=True,
                    )


def _outcome(output: str) -> str:
    start = output.find("[")
    if start < 0:
        return "?"
    rows = json.loads(output[start:])
    return ", ".join(f"{row['outcome']}" + (f" ({row['error']})" if row.get("error") else "") for row in rows)


if __name__ == "__main__":
    main()
