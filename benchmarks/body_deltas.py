"""Benchmark: a body compressed against the page's previous body, on real pages (issue 15).

Each real page of the article-extraction benchmark (``--data-dir``, its ``html/*.html.gz``) is stored as
a new version of itself with one paragraph edited (the middle ``<p>``'s text replaced by as many other
characters; a sentence inserted in the middle when there is none). Reports the bytes of the edited
version stored standalone (zlib 6, as ``bodies`` did before migration 0019) and against the previous
version: as watcher stores it (``watcher.models.encode_body_data``: zstd 3 with the previous body as
prefix, long-distance matching) and with the codec first considered (raw deflate 6 with the previous
body as preset dictionary, whose 32 KB window caps the gain on large pages); by page size, with the
write cost (µs to compress: zlib alone as before, zlib and zstd as now, the smaller kept) and the read
cost (µs to decompress the standalone row, and to decompress the base and then the delta), the median
of ``--repeat`` runs. The times are CPU timings on a shared machine: read them with the load average
printed beside them.

    .venv/bin/python benchmarks/body_deltas.py --data-dir ../shared/benchmarks/article-extraction
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from capture_rounds import edited

from watcher.models import decode_body_data, encode_body_data

SIZES = ((0, 32_768, "< 32 KB"), (32_768, 100_000, "32–100 KB"), (100_000, 10**9, "≥ 100 KB"))


def timed(call: Callable[..., object], *args: Any, repeat: int) -> float:
    """The median of ``repeat`` runs of ``call(*args)``, in µs."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call(*args)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs) * 1e6


def read_through_base(compression: str, data: bytes, base_row: bytes) -> bytes:
    """As ``raw_bytes`` reads a delta: the base's row decompressed, then the delta against it."""
    return decode_body_data(compression, data, decode_body_data("zlib", base_row, None))


def deflate_with_dictionary(body: bytes, base: bytes) -> bytes:
    """The codec first considered: raw deflate 6 with the base as preset dictionary (its last 32 KB)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, base[-32768:])
    return packer.compress(body) + packer.flush()


def measure(page: bytes, repeat: int) -> dict[str, float]:
    new = edited(page)
    base_row, new_row = zlib.compress(page, 6), zlib.compress(new, 6)
    compression, data = encode_body_data(new, page)
    return {
        "pages": 1,
        "raw": len(new),
        "zlib 6 standalone": len(new_row),
        "deflate 6 + zdict": len(deflate_with_dictionary(new, page)),
        "stored (zstd 3 + prefix)": len(data),
        "write µs, zlib 6 (before)": timed(zlib.compress, new, 6, repeat=repeat),
        "write µs, zlib 6 and zstd (stored)": timed(encode_body_data, new, page, repeat=repeat),
        "read µs, standalone": timed(zlib.decompress, new_row, repeat=repeat),
        "read µs, base + delta": timed(read_through_base, compression, data, base_row, repeat=repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    totals: dict[str, dict[str, float]] = {}
    for path in sorted((args.data_dir / "html").glob("*.html.gz")):
        page = gzip.decompress(path.read_bytes())
        label = next(label for low, high, label in SIZES if low <= len(page) < high)
        for key, value in measure(page, args.repeat).items():
            for group in (label, "all"):
                totals.setdefault(group, {})[key] = totals.get(group, {}).get(key, 0) + value
    report: dict[str, Any] = {
        group: {key: round(value / sums["pages"], 1) if "µs" in key else round(value) for key, value in sums.items()}
        for group, sums in totals.items()
    }
    report["load average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
