"""A small history made the real way (captures through the pipeline, claim profiles, alerts) for the
history, search, claims, export and API tests.

Clinic Aoba, page /exosome (every capture at 09:00 UTC):
    03-01 v1  depression possible                      (統合失調症 absent)
    03-02     HTTP 500: a failed check, no snapshot
    03-03 v2  depression proven, schizophrenia listed  (統合失調症 appears)
    03-04     same page again: unchanged
    03-06 v3  schizophrenia replaced by anxiety        (統合失調症 disappears)
    03-09 v4  schizophrenia listed again               (統合失調症 reappears)
Clinic Aoba, page /supernatant:
    03-07 v1  schizophrenia possible
Birch TMS Center, page /tms:
    03-02 v1  "may help with depression";  03-05 v2 "clinically proven ... significant improvement"
No clinic, page solo.example:  03-01 v1 with "100%" and "a_b" in it (wildcard escaping).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from watcher.capture import Capture
from watcher.config import Settings
from watcher.db import Store
from watcher.pipeline.analyse import analyse_new_version
from watcher.pipeline.record import record_capture
from watcher.sources import SourceSpec, add_sources

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TERM_JA = "統合失調症"


def page(body: str, title: str = "page") -> str:
    return f"<html><head><title>{title}</title></head><body><main><article>{body}</article></main></body></html>"


_HEAD = "<h1>エクソソーム点滴とうつ病</h1><p>エクソソーム点滴で、うつ病が改善することが臨床試験で証明されています。</p>"
A_V1 = page(
    "<h1>エクソソーム点滴とうつ病</h1><p>エクソソーム点滴は、うつ病の症状を和らげる可能性があります。</p>"
    "<p>料金は1回33,000円(税込)です。</p>",
    "エクソソーム点滴 v1",
)
A_V2 = page(_HEAD + "<h2>適応可能な精神症状</h2><ul><li>うつ病</li><li>統合失調症</li></ul>", "エクソソーム点滴 v2")
A_V3 = page(_HEAD + "<h2>適応可能な精神症状</h2><ul><li>うつ病</li><li>不安障害</li></ul>", "エクソソーム点滴 v3")
A_V4 = page(
    _HEAD + "<h2>適応可能な精神症状</h2><ul><li>うつ病</li><li>統合失調症</li><li>不安障害</li></ul>",
    "エクソソーム点滴 v4",
)
S_V1 = page(
    "<h1>幹細胞上清液のご案内</h1><p>幹細胞培養上清液の点滴は、統合失調症の症状にも効果がある可能性があります。</p>",
    "上清液",
)
B_V1 = page("<h1>TMS therapy</h1><p>TMS therapy may help with depression in some patients.</p>", "TMS")
B_V2 = page(
    "<h1>TMS therapy</h1><p>TMS therapy is clinically proven to cure depression: a significant "
    "improvement in 90% of patients.</p>",
    "TMS",
)
N_V1 = page(
    "<h1>Vitamin drip</h1><p>Our vitamin drip is 100% natural and may support recovery; code a_b.</p>", "Vitamin"
)

AOBA, BIRCH = "Aoba Clinic", "Birch TMS Center"
URL_A, URL_S = "https://aoba.example/exosome", "https://aoba.example/supernatant"
URL_B, URL_N = "https://birch.example/tms", "https://solo.example/page"


@dataclass(frozen=True)
class History:
    a: int
    s: int
    b: int
    n: int


def at(day: int) -> datetime:
    return T0 + timedelta(days=day)


def capture(
    store: Store, settings: Settings, source_id: int, url: str, day: int, html: str | None, *, status: int = 200
) -> None:
    body = html.encode("utf-8") if html is not None else b"<h1>Internal Server Error</h1>"
    item = Capture(
        source_id=source_id,
        requested_url=url,
        final_url=url,
        fetched_at=at(day),
        duration_ms=5,
        status=status,
        headers={"Content-Type": ["text/html; charset=utf-8"]},
        body=body,
    )
    with store.session() as session:
        record_capture(session, item, settings=settings, on_new_version=analyse_new_version)


def build_history(store: Store, settings: Settings) -> History:
    with store.session() as session:
        a, s = (
            src.id
            for src in add_sources(session, [SourceSpec(url=URL_A, clinic=AOBA), SourceSpec(url=URL_S, clinic=AOBA)])
        )
        b = add_sources(session, [SourceSpec(url=URL_B, clinic=BIRCH)])[0].id
        n = add_sources(session, [SourceSpec(url=URL_N)])[0].id
    plan = [
        (a, URL_A, 0, A_V1, 200),
        (n, URL_N, 0, N_V1, 200),
        (a, URL_A, 1, None, 500),
        (b, URL_B, 1, B_V1, 200),
        (a, URL_A, 2, A_V2, 200),
        (a, URL_A, 3, A_V2, 200),
        (b, URL_B, 4, B_V2, 200),
        (a, URL_A, 5, A_V3, 200),
        (s, URL_S, 6, S_V1, 200),
        (a, URL_A, 8, A_V4, 200),
    ]
    for source_id, url, day, html, status in plan:
        capture(store, settings, source_id, url, day, html, status=status)
    return History(a=a, s=s, b=b, n=n)
