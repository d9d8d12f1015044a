"""Alerts made the real way for the notify and feed tests: captures of two versions of a page go
through the pipeline (extraction, claim profiles, findings, alerts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watcher.capture import Capture
from watcher.config import Settings
from watcher.db import Store
from watcher.pipeline.analyse import analyse_new_version
from watcher.pipeline.record import record_capture
from watcher.sources import SourceSpec, add_sources

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def page(body: str, title: str = "page") -> str:
    return f"<html><head><title>{title}</title></head><body><main><article>{body}</article></main></body></html>"


# Clinic A (Japanese): claim_strengthened depression (high), new_indication schizophrenia (high),
# reference_removed (medium).
JA_OLD = page("""<h1>エクソソームとうつ病</h1>
<p>エクソソーム点滴は、うつ病の症状を和らげる可能性があります。</p>
<h2>参考文献</h2><ul>
<li>Dowlati Y, et al. A meta-analysis of cytokines in major depression. Biol Psychiatry. 2010;67(5):446-457. doi:10.1016/j.biopsych.2009.09.033</li>
<li>Miller AH, Raison CL. The role of inflammation in depression. Nat Rev Immunol. 2016;16(1):22-34. doi:10.1038/nri.2015.5</li>
</ul>""")
JA_NEW = page("""<h1>エクソソームとうつ病</h1>
<p>エクソソーム点滴で、うつ病が改善することが臨床試験で証明されています。</p>
<h2>適応可能な精神症状</h2><ul><li>うつ病</li><li>統合失調症</li></ul>
<h2>参考文献</h2><ul>
<li>Miller AH, Raison CL. The role of inflammation in depression. Nat Rev Immunol. 2016;16(1):22-34. doi:10.1038/nri.2015.5</li>
</ul>""")

# Clinic B (English): claim_strengthened depression (high; the new sentence carries a literal
# <script> from the page's text), new_indication anxiety (high), reference_added (low).
SCRIPT = "<script>alert('x')</script>"
EN_OLD = page("""<h1>TMS</h1><p>TMS therapy may help with depression.</p>
<h2>References</h2><ul><li>Smith J, et al. rTMS for depression. Lancet. 2019;393:1-10. doi:10.1016/S0140-6736(19)00001-1</li></ul>""")
EN_NEW = page("""<h1>TMS</h1>
<p>TMS therapy is clinically proven to cure depression &lt;script&gt;alert('x')&lt;/script&gt; in 90% of patients.</p>
<p>TMS is also effective for anxiety.</p>
<h2>References</h2><ul>
<li>Smith J, et al. rTMS for depression. Lancet. 2019;393:1-10. doi:10.1016/S0140-6736(19)00001-1</li>
<li>Doe A, et al. TMS and anxiety. JAMA. 2020;323:5-9. doi:10.1001/jama.2020.0001</li></ul>""")

CLINIC_A, URL_A = "Aoba Clinic", "https://aoba.example/exosome"
CLINIC_B, URL_B = "Birch TMS Center", "https://birch.example/tms"


def add_source(store: Store, url: str, clinic: str) -> int:
    with store.session() as session:
        return add_sources(session, [SourceSpec(url=url, clinic=clinic)])[0].id


def html_capture(source_id: int, url: str, body: bytes, fetched_at: datetime) -> Capture:
    """A 200 HTML capture of ``url`` with ``body``, as the crawl child answers one."""
    return Capture(
        source_id=source_id,
        requested_url=url,
        final_url=url,
        fetched_at=fetched_at,
        duration_ms=5,
        status=200,
        headers={"Content-Type": ["text/html; charset=utf-8"]},
        body=body,
    )


def feed(store: Store, settings: Settings, source_id: int, url: str, pages: list[str], *, day0: int = 0) -> None:
    for offset, html in enumerate(pages):
        capture = html_capture(source_id, url, html.encode("utf-8"), T0 + timedelta(days=day0 + offset))
        with store.session() as session:
            record_capture(session, capture, settings=settings, on_new_version=analyse_new_version)


def two_clinic_sources(store: Store) -> tuple[int, int]:
    return add_source(store, URL_A, CLINIC_A), add_source(store, URL_B, CLINIC_B)


def change_both(store: Store, settings: Settings, a: int, b: int) -> None:
    """Each source gets two versions: six alerts in all (three per clinic)."""
    feed(store, settings, a, URL_A, [JA_OLD, JA_NEW])
    feed(store, settings, b, URL_B, [EN_OLD, EN_NEW])
