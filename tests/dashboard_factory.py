"""History for the dashboard tests and screenshots: the history of ``history_factory`` (two clinics,
several versions, a failed check, alerts) plus a malicious page.

The malicious page (clinic "Evil <script>…</script> Clinic") carries real ``<script>`` and
``<img onerror>`` elements in its raw HTML, and the same payloads as *text* (HTML entities), so that
the extracted text, the alert sentences, the diff and the title all contain
``<script>pwned=1;alert(1)</script>`` and ``<img src=x onerror=pwned=2;alert(1)>``. If the dashboard
ever ran any of it, ``window.pwned`` would be set and an alert dialog would open.
"""

from __future__ import annotations

from dataclasses import dataclass

from history_factory import History, build_history, capture, page

from watcher.config import Settings
from watcher.db import Store
from watcher.sources import SourceSpec, add_sources

PAYLOAD_SCRIPT = "<script>pwned=1;alert(1)</script>"
PAYLOAD_IMG = "<img src=x onerror=pwned=2;alert(1)>"
EVIL_URL = "https://evil.example/nmn"
EVIL_CLINIC = "Evil <script>alert(1)</script> Clinic"
_LIVE = f"{PAYLOAD_SCRIPT}{PAYLOAD_IMG}<svg onload=pwned=3></svg>"
_AS_TEXT = "&lt;script&gt;pwned=1;alert(1)&lt;/script&gt; &lt;img src=x onerror=pwned=2;alert(1)&gt;"
_MORE = "<p>Our clinic offers NMN drips every weekday; please book a consultation with our doctors first.</p>"
EVIL_V1 = page(
    f"<h1>NMN drip &lt;script&gt;pwned=1;alert(1)&lt;/script&gt;</h1><p>NMN may help with depression in some patients.</p>{_MORE}{_LIVE}",
    "&lt;script&gt;pwned=1;alert(1)&lt;/script&gt; NMN",
)
EVIL_V2 = page(
    f"<h1>NMN drip &lt;script&gt;pwned=1;alert(1)&lt;/script&gt;</h1><p>NMN is clinically proven to cure depression {_AS_TEXT} guaranteed</p>{_MORE}{_LIVE}",
    "&lt;script&gt;pwned=1;alert(1)&lt;/script&gt; NMN",
)


@dataclass(frozen=True)
class DashboardHistory:
    base: History
    evil: int


def build_dashboard_history(store: Store, settings: Settings) -> DashboardHistory:
    base = build_history(store, settings)
    with store.session() as session:
        evil = add_sources(session, [SourceSpec(url=EVIL_URL, clinic=EVIL_CLINIC)])[0].id
    capture(store, settings, evil, EVIL_URL, 2, EVIL_V1)
    capture(store, settings, evil, EVIL_URL, 7, EVIL_V2)
    return DashboardHistory(base=base, evil=evil)
