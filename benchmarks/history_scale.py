"""Benchmark: history queries at scale — a page timeline, an alerts listing and full-text searches —
over a synthetic history of N sources and M text versions, on SQLite and on PostgreSQL.

The history is generated the way clinic pages drift: each source (60% Japanese, 40% English; ten
pages per clinic) starts from templated clinic text (shared boilerplate paragraphs, a treatment
claim at some strength, a list of indications, a date, a price, references) and each new version
changes the claim's strength, adds or drops an indication, or only the date and price. Claim
profiles are the real analyser's output (computed once per distinct claim state and reused);
alerts follow the flip-flop rule (one row per distinct transition, ``occurrences`` counting
recurrences). Every version has a Check, a Snapshot (zlib HTML), a TextVersion, a Change and a
ClaimProfileRecord, plus one extra unchanged/not-modified/error check between versions.

The schema is made by watcher's own migrations (so the FTS5 term table, the GIN over the passage
blocks' terms and the alert index are the real ones); rows are bulk-loaded (SQLite: executemany in
large transactions, the term table filled as the write path does; PostgreSQL: COPY, the term index
dropped during the load and rebuilt after, as one bulk-loads). The search index is the one the write
path stores (``Generator.index_rows``): the versions in capture order, a part of ``PART_VERSIONS`` at a
time, each part's new lines in blocks under their keys, each source's runs (``chain_runs``) with their
memberships. Queries then go through the real functions (``watcher.queries.timeline.timeline``,
``watcher.queries.alerts.alerts_page``, ``watcher.search.search``) in a fresh process state, timing each
call. ``--verify`` then compares the loaded index's answers with those of the index ``watcher reindex``
builds from the same text versions (``reindex_check``; it rewrites the index: small runs).

    .venv/bin/python benchmarks/history_scale.py --sources 10000 --versions 1000000
    .venv/bin/python benchmarks/history_scale.py --sources 1000 --versions 100000 --backend sqlite

PostgreSQL: a throw-away database is created with the admin URL (``--postgres-admin-url``, default
``$WATCHER_TEST_POSTGRES_URL`` or postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the
end unless ``--keep``. SQLite: a file under ``--workdir`` (removed at the end unless ``--keep``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite as sqlite_dialect

from watcher.claims import ANALYSER_VERSION, analyze
from watcher.db import Store
from watcher.extract import EXTRACTOR_VERSION, extract_document
from watcher.models import (
    BLOCK_SLOTS,
    EPOCH,
    MICROSECOND,
    SECOND,
    Base,
    CompactUTCDateTime,
    PassageRun,
    SecondUTCDateTime,
    ZlibJSON,
    compact_json,
    deflate,
    encode_block,
)
from watcher.pipeline.claim_steps import steps_of
from watcher.pipeline.passages import (
    chain_runs,
    new_blocks,
    next_key,
    passage_key,
    passage_lines,
    run_row,
    term_document,
)
from watcher.search_index import BLOCK_TERMS_INDEX, BLOCK_TERMS_TABLE, TERMS_FUNCTION
from watcher.zdicts import HEADERS, PROFILE, TEXT

T0 = datetime(2024, 1, 1, tzinfo=UTC)
# Japanese and English searches of one, two and three or more characters.
SEARCH_TERMS = ("症", "うつ", "不安", "統合失調症", "臨床試験で証明", "x", "TM", "autism", "clinically proven")
SCHIZOPHRENIA = 2  # index in the indication lists
# New text versions the write path indexes together (one part of a recorded batch): a scheduler batch
# is 50 checks (scheduler_batch_size), about half of which find a change in this history.
PART_VERSIONS = 25

JA_INDICATIONS = [
    "うつ病",
    "不安障害",
    "統合失調症",
    "自閉症",
    "不眠症",
    "パニック障害",
    "双極性障害",
    "認知症",
    "慢性疲労症候群",
    "PTSD",
]
EN_INDICATIONS = [
    "depression",
    "anxiety disorder",
    "schizophrenia",
    "autism",
    "insomnia",
    "panic disorder",
    "bipolar disorder",
    "dementia",
    "chronic fatigue syndrome",
    "PTSD",
]
JA_TREATMENTS = ["エクソソーム点滴", "幹細胞培養上清液点滴", "NMN点滴", "TMS治療", "高濃度ビタミンC点滴"]
EN_TREATMENTS = [
    "Exosome therapy",
    "Stem cell secretome therapy",
    "NMN infusion",
    "TMS therapy",
    "High-dose vitamin C infusion",
]
JA_CLAIMS = {
    1: "{t}は、うつ病の症状を和らげる可能性があります。",
    2: "{t}は、うつ病の改善が期待されています。",
    3: "{t}で、うつ病の症状が改善します。",
    4: "{t}で、うつ病が改善することが臨床試験で証明されています。",
}
EN_CLAIMS = {
    1: "{t} may help with depression.",
    2: "{t} is expected to relieve depression.",
    3: "{t} improves depression.",
    4: "{t} is clinically proven to cure depression.",
}
JA_FILLER = [
    "当院は駅から徒歩3分の場所にあり、平日は夜8時まで診療しております。初めての方も安心してご相談ください。",
    "ご予約はお電話またはWebフォームから承っております。当日のご予約も空きがあれば対応いたします。",
    "院長は大学病院で長年にわたり診療に携わってきました。患者様一人ひとりに寄り添った診療を心がけています。",
    "治療の前には丁寧なカウンセリングを行い、治療内容や費用について十分にご説明いたします。",
    "点滴は個室のリクライニングチェアで行います。所要時間は約60分です。",
    "お支払いには各種クレジットカードをご利用いただけます。領収書の発行も可能です。",
    "駐車場は提携のコインパーキングをご利用ください。2時間分の駐車券をお渡しします。",
    "治療後は普段通りの生活を送っていただけます。当日の激しい運動や飲酒はお控えください。",
    "オンライン診療にも対応しております。遠方の方もお気軽にお問い合わせください。",
    "スタッフ一同、皆様のご来院を心よりお待ちしております。",
]
EN_FILLER = [
    "Our clinic is a three-minute walk from the station and open until 8 pm on weekdays.",
    "Appointments can be booked by phone or through our online form; same-day visits are possible.",
    "Our medical director trained at a university hospital and has many years of clinical experience.",
    "Before any treatment we hold a consultation to explain the procedure and its costs in detail.",
    "Infusions take place in a private room and take about sixty minutes.",
    "We accept all major credit cards and issue receipts on request.",
    "Parking is available at the partner garage next door; ask reception for a two-hour ticket.",
    "You can return to your normal routine right after the treatment; avoid alcohol on the same day.",
    "We also offer online consultations for patients who live far away.",
    "Our whole team looks forward to welcoming you.",
]
REFERENCES = [
    "Tanaka H, et al. Extracellular vesicles in mood disorders. J Neuroinflammation. 2021;18:112.",
    "Miller AH, Raison CL. The role of inflammation in depression. Nat Rev Immunol. 2016;16(1):22-34.",
    "Dowlati Y, et al. A meta-analysis of cytokines in major depression. Biol Psychiatry. 2010;67(5):446-457.",
]
HTML = (
    '<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head><body>'
    '<header><nav><a href="/">Home</a></nav></header><main><article>{body}</article></main>'
    "<footer><p>© {clinic}</p></footer></body></html>"
)


@dataclass
class PageState:
    lang: str
    treatment: int
    strength: int
    indications: list[int]
    fillers: list[int]
    references: int


@dataclass
class Tables:
    checks: list[tuple[Any, ...]] = field(default_factory=list)
    bodies: list[tuple[Any, ...]] = field(default_factory=list)
    snapshots: list[tuple[Any, ...]] = field(default_factory=list)
    versions: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)
    profiles: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)
    blocks: list[tuple[Any, ...]] = field(default_factory=list)
    passages: list[tuple[Any, ...]] = field(default_factory=list)
    runs: list[tuple[Any, ...]] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    states: list[tuple[Any, ...]] = field(default_factory=list)
    steps: list[tuple[Any, ...]] = field(default_factory=list)

    def size(self) -> int:
        return len(self.versions)

    def clear(self) -> None:
        for name in TABLE_OF:
            getattr(self, name).clear()


COLUMNS = {
    "checks": (
        "id",
        "source_id",
        "checked_at",
        "duration_ms",
        "outcome",
        "http_status",
        "final_url",
        "error_kind",
        "error",
        "body_sha256",
        "body_size",
        "snapshot_id",
    ),
    "snapshots": (
        "id",
        "source_id",
        "fetched_at",
        "requested_url",
        "final_url",
        "http_status",
        "headers",
        "content_type",
        "encoding",
        "sha256",
        "size",
    ),
    "bodies": ("sha256", "size", "compression", "data"),
    "text_versions": (
        "id",
        "snapshot_id",
        "source_id",
        "extractor_version",
        "title",
        "language",
        "text",
        "text_sha256",
        "created_at",
    ),
    "changes": (
        "id",
        "source_id",
        "old_version_id",
        "new_version_id",
        "inserted_chars",
        "deleted_chars",
        "ops",
        "diff_seconds",
        "created_at",
    ),
    "claim_profiles": (
        "id",
        "text_version_id",
        "source_id",
        "analyser_version",
        "profile",
        "indications",
        "reference_count",
        "created_at",
    ),
    "alerts": (
        "id",
        "source_id",
        "clinic_id",
        "kind",
        "severity",
        "indication",
        "reference",
        "strength_before",
        "strength_after",
        "before",
        "after",
        "old_snapshot_id",
        "new_snapshot_id",
        "old_fetched_at",
        "new_fetched_at",
        "detected_at",
        "dedupe_key",
        "occurrences",
        "last_snapshot_id",
        "last_detected_at",
        "details",
    ),
    "passage_blocks": ("id", "text"),
    "passages": ("key", "id"),
    "passage_runs": tuple(column.name for column in PassageRun.__table__.columns),
    "run_passages": ("passage_id", "source_id", "first_seen", "run_id"),
    "passage_index_state": (
        "source_id",
        "last_text_version_id",
        "last_snapshot_id",
        "last_fetched_at",
        "versions",
        "last_profile_id",
    ),
    "indication_steps": (
        "source_id",
        "indication",
        "snapshot_id",
        "fetched_at",
        "strength",
        "previous_snapshot_id",
        "previous_fetched_at",
    ),
}
TABLE_OF = {
    "bodies": "bodies",
    "checks": "checks",
    "snapshots": "snapshots",
    "versions": "text_versions",
    "changes": "changes",
    "profiles": "claim_profiles",
    "alerts": "alerts",
    "blocks": "passage_blocks",
    "passages": "passages",
    "runs": "passage_runs",
    "members": "run_passages",
    "states": "passage_index_state",
    "steps": "indication_steps",
}
JSON_COLUMNS = {"indications", "details"}  # profile, ops, headers: zlib-compressed JSON (ZlibJSON)
# Every snapshot's headers as ZlibJSON(HEADERS) stores them.
HEADERS_ROW = deflate(compact_json({"Content-Type": ["text/html; charset=utf-8"]}).encode(), HEADERS)
PROFILE_COLUMN = ZlibJSON(PROFILE)  # as ClaimProfileRecord.profile: its preset dictionary
SQLITE = sqlite_dialect.dialect()  # the same bytes on both backends
OPS = zlib.compress(compact_json([[0, 40], [-1, "旧"], [1, "新"]]).encode("utf-8"), 9)
# Parents before children: foreign keys are checked as rows arrive.
LOAD_ORDER = (
    "bodies",
    "snapshots",
    "versions",
    "changes",
    "profiles",
    "checks",
    "alerts",
    "blocks",
    "passages",
    "runs",
    "members",
    "states",
    "steps",
)


class Generator:
    """Deterministic synthetic history, one source at a time."""

    def __init__(self, *, sources: int, versions: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.sources = sources
        self.per_source = max(1, versions // sources)
        self.profiles: dict[tuple[Any, ...], tuple[bytes | None, dict[str, int], int]] = {}
        self.bodies: set[int] = set()  # 64-bit prefixes of the SHA-256 of the bodies kept: each once
        self.next_check = 1
        self.next_alert = 1
        self.next_version = 1
        self.passage_ids: dict[str, int] = {}  # the lines stored, by text
        self.keys: set[int] = set()  # their keys
        self.next_block = 1
        self.next_run = 1
        self.chains: dict[int, list[tuple[int, datetime, str]]] = {}  # sources generated, not indexed yet

    def clinic_of(self, source: int) -> int:
        return (source - 1) // 10 + 1

    def initial_state(self, source: int) -> PageState:
        rng = self.rng
        lang = "ja" if rng.random() < 0.6 else "en"
        pool = list(range(1, 10))
        rng.shuffle(pool)
        # Depression (0) always; schizophrenia (2) on a minority of pages, as on real clinic sites.
        indications = [0] + [i for i in pool[: rng.randint(0, 3)] if i != SCHIZOPHRENIA or rng.random() < 0.4]
        return PageState(
            lang=lang,
            treatment=rng.randrange(5),
            strength=rng.randint(1, 3),
            indications=sorted(indications),
            fillers=rng.sample(range(10), rng.randint(4, 8)),
            references=rng.randint(0, 3),
        )

    def evolve(self, state: PageState) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            state.strength = min(4, max(1, state.strength + rng.choice((-1, 1, 1))))
        elif roll < 0.6:
            missing = [i for i in range(1, 10) if i not in state.indications]
            if len(state.indications) > 1 and (not missing or rng.random() < 0.45):
                state.indications.remove(rng.choice(state.indications[1:]))
            elif missing:
                added = rng.choice(missing)
                if added == SCHIZOPHRENIA and rng.random() < 0.6:
                    return  # clinics add it more reluctantly than the others
                state.indications = sorted([*state.indications, added])
        elif roll < 0.7:
            state.references = max(0, min(3, state.references + rng.choice((-1, 1))))

    def text_of(self, state: PageState, *, clinic: str, when: datetime, price: int) -> tuple[str, str, str]:
        """The page's HTML and its extracted text (built directly in the extractor's line format;
        ``check_extraction`` proves the two agree)."""
        ja = state.lang == "ja"
        treatment = (JA_TREATMENTS if ja else EN_TREATMENTS)[state.treatment]
        claim = (JA_CLAIMS if ja else EN_CLAIMS)[state.strength].format(t=treatment)
        fillers = [(JA_FILLER if ja else EN_FILLER)[i] for i in state.fillers]
        names = [(JA_INDICATIONS if ja else EN_INDICATIONS)[i] for i in state.indications]
        refs = REFERENCES[: state.references]
        title = f"{treatment}による治療のご案内" if ja else f"{treatment} at {clinic}"
        heading = "適応可能な症状" if ja else "Conditions we treat"
        refs_heading = "参考文献" if ja else "References"
        date = (
            f"この情報は{when:%Y年%m月%d日}時点のものです。"
            if ja
            else f"This page was last reviewed on {when:%B %d, %Y}."
        )
        fee = f"料金は1回{price:,}円(税込)です。" if ja else f"The fee is {price:,} yen per session."
        body = (
            f"<h1>{title}</h1><p>{date}</p><p>{claim}</p>{''.join(f'<p>{f}</p>' for f in fillers)}"
            f"<h2>{heading}</h2><ul>{''.join(f'<li>{n}</li>' for n in names)}</ul><p>{fee}</p>"
            + (f"<h2>{refs_heading}</h2><ul>{''.join(f'<li>{r}</li>' for r in refs)}</ul>" if refs else "")
        )
        html = HTML.format(lang=state.lang, title=title, body=body, clinic=clinic)
        lines = [f"# {title}", date, claim, *fillers, f"## {heading}", *(f"- {n}" for n in names), fee]
        if refs:
            lines += [f"## {refs_heading}", *(f"- {r}" for r in refs)]
        return html, "\n".join(lines), title

    def profile(self, state: PageState, text: str) -> tuple[bytes | None, dict[str, int], int]:
        key = (state.lang, state.treatment, state.strength, tuple(state.indications), state.references)
        if key not in self.profiles:
            result = analyze(text)
            self.profiles[key] = (
                PROFILE_COLUMN.process_bind_param(result.to_dict(), SQLITE),  # as the model writes it
                result.indication_strengths(),
                len(result.references),
            )
        return self.profiles[key]

    def source_rows(self, source: int, tables: Tables) -> None:
        rng = self.rng
        clinic_id = self.clinic_of(source)
        clinic = f"Clinic {clinic_id}"
        url = f"https://clinic{clinic_id}.example/page{source}"
        state = self.initial_state(source)
        when = T0 + timedelta(hours=rng.randint(0, 24 * 30))
        previous: tuple[int, datetime, dict[str, int], str] | None = None
        seen: dict[str, int] = {}
        chain: list[tuple[int, datetime, str]] = []
        profiled: list[tuple[int, datetime, dict[str, Any] | None]] = []
        for n in range(self.per_source):
            if n:
                self.evolve(state)
                gap = timedelta(days=rng.randint(2, 9), minutes=rng.randint(0, 600))
                # One check in between that found nothing new (or failed).
                between = when + gap / 2
                outcome, status = rng.choice(
                    (("not_modified", 304), ("unchanged", 200), ("unchanged", 200), ("error", 503))
                )
                tables.checks.append(
                    (
                        self.next_check,
                        source,
                        between,
                        120,
                        outcome,
                        status,
                        url,
                        "http_503" if outcome == "error" else None,
                        "HTTP 503" if outcome == "error" else None,
                        None,
                        None,
                        None,
                    )
                )
                self.next_check += 1
                when += gap
            vid = self.next_version
            self.next_version += 1
            html, text, title = self.text_of(state, clinic=clinic, when=when, price=rng.randrange(20, 60) * 1000)
            raw = html.encode("utf-8")
            if vid <= 50:
                check_extraction(raw, text)
            digest = hashlib.sha256(raw).digest()
            sha = digest.hex()
            if int.from_bytes(digest[:8]) not in self.bodies:
                self.bodies.add(int.from_bytes(digest[:8]))
                tables.bodies.append((sha, len(raw), "zlib", zlib.compress(raw, 6)))
            tables.snapshots.append(
                (
                    vid,
                    source,
                    when,
                    url,
                    url,
                    200,
                    HEADERS_ROW,
                    "text/html; charset=utf-8",
                    "utf-8",
                    sha,
                    len(raw),
                )
            )
            tables.versions.append(
                (
                    vid,
                    vid,
                    source,
                    EXTRACTOR_VERSION,
                    title,
                    state.lang,
                    deflate(text.encode("utf-8"), TEXT),  # ZlibText(TEXT)
                    hashlib.sha256(text.encode("utf-8")).digest(),  # HexDigest
                    when,
                )
            )
            profile, indications, references = self.profile(state, text)
            tables.profiles.append((vid, vid, source, ANALYSER_VERSION, profile, indications, references, when))
            tables.checks.append(
                (self.next_check, source, when, 150, "changed", 200, url, None, None, sha, len(raw), vid)
            )
            self.next_check += 1
            if previous is not None:
                old_id, old_when, old_ind, old_text = previous
                delta = abs(len(text) - len(old_text)) + 20
                tables.changes.append((vid, source, old_id, vid, delta, 20, OPS, 0.001, when))
                self._alerts(tables, source, clinic_id, old_id, old_when, old_ind, vid, when, indications, seen)
            previous = (vid, when, indications, text)
            chain.append((vid, when, text))
            profiled.append((vid, when, dict(indications)))
        self.chains[source] = chain
        last_id, last_at, _text = chain[-1]
        tables.states.append((source, last_id, last_id, last_at, len(chain), last_id))  # profile id = version id
        for step in steps_of(profiled):
            tables.steps.append(
                (
                    source,
                    step["indication"],
                    step["snapshot_id"],
                    step["fetched_at"],
                    step["strength"],
                    step["previous_snapshot_id"],
                    step["previous_fetched_at"],
                )
            )

    def index_rows(self, tables: Tables) -> None:
        """The distinct-passage index of the sources generated since the last call, as the write path
        stores it (``index_new_versions``): their versions in capture order, recorded a part of
        ``PART_VERSIONS`` at a time (a source met again starts a new part, as in ``record_captures``),
        each part's new lines — in the order of its versions and their lines — in new blocks
        (``new_blocks``) under their keys (``passage_key``, the next free one on a collision); then each
        source's runs (``chain_runs``: those its appends build, ``run_row``) and their memberships.
        Snapshot and text version ids are equal here."""
        versions = sorted(
            (fetched_at, snapshot_id, source, text)
            for source, chain in self.chains.items()
            for snapshot_id, fetched_at, text in chain
        )
        part: list[str] = []
        held: set[int] = set()
        for _at, _snapshot_id, source, text in versions:
            if source in held or len(held) == PART_VERSIONS:
                self._store_lines(tables, part)
                part, held = [], set()
            part += passage_lines(text)
            held.add(source)
        self._store_lines(tables, part)
        for source, chain in self.chains.items():
            runs, _lines = chain_runs(chain)
            for key, lines in runs.items():
                ids = [self.passage_ids[line] for line in lines]
                row = run_row(key, source, ids)
                tables.runs.append((self.next_run, *(row[column] for column in COLUMNS["passage_runs"][1:])))
                first = row["first_seen"].replace(microsecond=0)  # a membership's, to the second (SecondUTCDateTime)
                tables.members += [(passage_id, source, first, self.next_run) for passage_id in ids]
                self.next_run += 1
        self.chains.clear()

    def _store_lines(self, tables: Tables, lines: list[str]) -> None:
        """Store the lines not stored yet (once each, in order) in new blocks, with their keys."""
        new = [line for line in dict.fromkeys(lines) if line not in self.passage_ids]
        for block in new_blocks(new):
            tables.blocks.append((self.next_block, "\n".join(block)))  # the loader encodes it (encode_block)
            for slot, line in enumerate(block):
                key = passage_key(line)
                while key in self.keys:
                    key = next_key(key)
                self.keys.add(key)
                self.passage_ids[line] = self.next_block * BLOCK_SLOTS + slot
                tables.passages.append((key, self.passage_ids[line]))
            self.next_block += 1

    def _alerts(
        self,
        tables: Tables,
        source: int,
        clinic_id: int,
        old_id: int,
        old_when: datetime,
        old: dict[str, int],
        new_id: int,
        when: datetime,
        new: dict[str, int],
        seen: dict[str, int],
    ) -> None:
        for name in sorted(set(old) | set(new)):
            before, after = old.get(name), new.get(name)
            if before == after:
                continue
            if before is None:
                kind = "new_indication"
            elif after is None:
                kind = "indication_removed"
            else:
                kind = "claim_strengthened" if after > before else "claim_weakened"
            key = f"{kind}|{name}|{before}>{after}"
            if key in seen:
                row = list(tables.alerts[seen[key]]) if seen[key] < len(tables.alerts) else None
                if row is not None:
                    row[17] += 1
                    row[18], row[19] = new_id, when
                    tables.alerts[seen[key]] = tuple(row)
                continue
            severity = (
                "high"
                if kind in ("new_indication", "claim_strengthened") and (after or 0) >= 3
                else ("medium" if kind in ("new_indication", "claim_strengthened") else "low")
            )
            seen[key] = len(tables.alerts)
            tables.alerts.append(
                (
                    self.next_alert,
                    source,
                    clinic_id,
                    kind,
                    severity,
                    name,
                    None,
                    before,
                    after,
                    None,
                    None,
                    old_id,
                    new_id,
                    old_when,
                    when,
                    when,
                    key,
                    1,
                    None,
                    None,
                    {"kind": kind, "indication": name},
                )
            )
            self.next_alert += 1


def check_extraction(raw: bytes, text: str) -> None:
    extracted = extract_document(raw, content_type="text/html; charset=utf-8").text
    if extracted != text:
        raise SystemExit(f"the generated text differs from watcher's extraction:\n{extracted!r}\n{text!r}")


# --- loading ---------------------------------------------------------------------------------------


# SQLite: the columns stored as integers (CompactUTCDateTime, migration 0018; SecondUTCDateTime, 0020), by table.
SECOND_DATES = {
    table.name: {column.name for column in table.columns if isinstance(column.type, SecondUTCDateTime)}
    for table in Base.metadata.sorted_tables
}
COMPACT_DATES = {
    table.name: {column.name for column in table.columns if isinstance(column.type, CompactUTCDateTime)}
    for table in Base.metadata.sorted_tables
}


def _sqlite_value(table: str, column: str, value: Any) -> Any:
    if isinstance(value, datetime) and column in SECOND_DATES[table]:
        return (value - EPOCH) // SECOND
    if isinstance(value, datetime) and column in COMPACT_DATES[table]:
        return (value - EPOCH) // MICROSECOND
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if column in JSON_COLUMNS and not isinstance(value, str):
        return compact_json(value)
    return value


class SqliteLoader:
    def __init__(self, path: Path) -> None:
        import sqlite3

        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-400000")

    def load(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        columns = COLUMNS[table]
        if table == "passage_blocks":  # their short terms: the FTS5 term table (PostgreSQL: its GIN index)
            self.db.executemany(
                f"INSERT INTO {BLOCK_TERMS_TABLE}(rowid, terms) VALUES (?, ?)",
                [(block_id, term_document(joined)) for block_id, joined in rows],
            )
            rows = [(block_id, encode_block(joined.split("\n"), "sqlite")) for block_id, joined in rows]
        converted = [tuple(_sqlite_value(table, c, v) for c, v in zip(columns, row, strict=True)) for row in rows]
        self.db.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", converted
        )

    def execute(self, sql: str, rows: list[tuple[Any, ...]] | None = None) -> None:
        if rows is None:
            self.db.execute(sql)
        else:
            self.db.executemany(sql, rows)

    def commit(self) -> None:
        self.db.commit()

    def finish(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.execute("ANALYZE")
        self.db.commit()
        self.db.close()


class PostgresLoader:
    def __init__(self, url: str) -> None:
        import psycopg

        self.db = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))

    def load(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        columns = COLUMNS[table]
        json_positions = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
        with self.db.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                if json_positions:
                    row = tuple(
                        compact_json(v) if i in json_positions and not isinstance(v, str) else v
                        for i, v in enumerate(row)
                    )
                copy.write_row(row)

    def execute(self, sql: str, rows: list[tuple[Any, ...]] | None = None) -> None:
        with self.db.cursor() as cursor:
            if rows is None:
                cursor.execute(sql)
            else:
                cursor.executemany(sql, rows)

    def commit(self) -> None:
        self.db.commit()

    def finish(self) -> None:
        for table in (
            "clinics",
            "sources",
            "checks",
            "snapshots",
            "text_versions",
            "changes",
            "claim_profiles",
            "alerts",
            "passage_blocks",
            "passage_runs",
        ):
            self.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        self.commit()
        self.db.autocommit = True
        self.execute("VACUUM ANALYZE")
        self.db.close()


def generate_and_load(
    loader: SqliteLoader | PostgresLoader,
    *,
    sources: int,
    versions: int,
    seed: int,
    placeholder: str,
    log: Callable[[str], None],
) -> dict[str, int]:
    gen = Generator(sources=sources, versions=versions, seed=seed)
    clinics = (sources + 9) // 10
    now = T0
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if placeholder == "?" else now
    loader.execute(
        f"INSERT INTO clinics (id, name, created_at) VALUES ({placeholder}, {placeholder}, {placeholder})",
        [(c, f"Clinic {c}", stamp) for c in range(1, clinics + 1)],
    )
    loader.execute(
        f"INSERT INTO sources (id, url, kind, clinic_id, language, interval_seconds, active, created_at) VALUES "
        f"({', '.join([placeholder] * 8)})",
        [
            (s, f"https://clinic{gen.clinic_of(s)}.example/page{s}", "page", gen.clinic_of(s), None, 86400, True, stamp)
            for s in range(1, sources + 1)
        ],
    )
    loader.commit()
    tables = Tables()
    counts = dict.fromkeys(LOAD_ORDER, 0)
    started = time.perf_counter()
    for source in range(1, sources + 1):
        gen.source_rows(source, tables)
        if tables.size() >= 20_000 or source == sources:
            gen.index_rows(tables)
            for name in LOAD_ORDER:
                loader.load(TABLE_OF[name], getattr(tables, name))
                counts[name] += len(getattr(tables, name))
            loader.commit()
            tables.clear()
            rate = counts["versions"] / (time.perf_counter() - started)
            log(f"  {source}/{sources} sources, {counts['versions']} versions ({rate:,.0f} versions/s)")
    counts["distinct_profiles"] = len(gen.profiles)
    return counts


# --- measuring -------------------------------------------------------------------------------------


def timed_once(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000, result


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ordered[-1], 1),
    }


def cold_and_warm(calls: list[Callable[[], Any]]) -> dict[str, Any]:
    """Each call twice: the first pass meets pages not read since the load (cold), the second the same
    pages again (warm, as on a server that has been answering for a while)."""
    cold = [timed_once(call)[0] for call in calls]
    warm = [timed_once(call)[0] for call in calls]
    return {"cold": summary(cold), "warm": summary(warm)}


def measure(url: str, *, sources: int, queries: int, seed: int) -> dict[str, Any]:
    from sqlalchemy import text

    from watcher.models import Source
    from watcher.queries.alerts import alerts_page
    from watcher.queries.claims import claim_timelines
    from watcher.queries.timeline import timeline
    from watcher.search import _passages_sql, search

    rng = random.Random(seed + 1)
    store = Store(url, migrate=False)
    out: dict[str, Any] = {}
    clinics = (sources + 9) // 10
    try:

        def one_timeline(source_id: int) -> Callable[[], Any]:
            def call() -> Any:
                with store.session() as session:
                    source = session.get(Source, source_id)
                    assert source is not None
                    return timeline(session, source)

            return call

        picked = [rng.randint(1, sources) for _ in range(queries)]
        out["timeline"] = cold_and_warm([one_timeline(s) for s in picked])
        sample = one_timeline(picked[0])()
        out["timeline"]["rows"] = {"checks": len(sample["checks"]), "snapshots": len(sample["snapshots"])}

        filters: list[Callable[[], dict[str, Any]]] = [
            lambda: {},
            lambda: {"clinic_id": rng.randint(1, clinics)},
            lambda: {"source_id": rng.randint(1, sources)},
            lambda: {"indication": rng.choice(["schizophrenia", "autism", "anxiety", "insomnia"])},
            lambda: {"kind": rng.choice(["new_indication", "claim_strengthened"])},
            lambda: {"indication": "schizophrenia", "kind": "new_indication"},
            lambda: {"since": T0 + timedelta(days=rng.randint(0, 600))},
        ]

        def listing(chosen: dict[str, Any]) -> Callable[[], Any]:
            def call() -> Any:
                with store.session() as session:
                    return alerts_page(session, limit=50, offset=0, newest_first=True, **chosen)

            return call

        out["alerts_listing"] = cold_and_warm([listing(filters[i % len(filters)]()) for i in range(queries)])

        def clinic_claims(clinic_id: int) -> Callable[[], Any]:
            def call() -> Any:
                with store.session() as session:
                    return claim_timelines(session, clinic_id=clinic_id)

            return call

        out["claims one clinic"] = cold_and_warm(
            [clinic_claims(rng.randint(1, clinics)) for _ in range(max(3, queries // 10))]
        )

        def indication_claims() -> Any:
            with store.session() as session:
                return claim_timelines(session, indication="schizophrenia")

        out["claims schizophrenia, all clinics"] = cold_and_warm([indication_claims] * 3)
        for term in SEARCH_TERMS:

            def find(term: str = term) -> Any:
                with store.session() as session:
                    return search(session, term, limit=100)

            repeat = max(3, queries // 20)
            first_ms, hits = timed_once(find)
            warm = [timed_once(find)[0] for _ in range(repeat)]
            with store.session() as session:
                passages, params, method = _passages_sql(session, term)
                matching, intervals = session.execute(
                    text(
                        f"SELECT count(DISTINCT passage_id), count(*) FROM run_passages "
                        f"WHERE passage_id IN ({passages})"
                    ),
                    params,
                ).one()
            out[f"search {term}"] = {
                "first_ms": round(first_ms, 1),
                "warm": summary(warm),
                "method": method,
                "matching_passages": matching,
                "matching_intervals": intervals,
                "sources_returned": len(hits),
            }
    finally:
        store.dispose()
    return out


def index_answers(store: Store, sources: int) -> tuple[dict[str, Any], dict[int, list[str]], int]:
    """What the index answers: the searches of ``SEARCH_TERMS`` (and of the first since a year on), every
    source's intervals (``source_intervals``: text and stretch of versions, in a fixed order) and how
    many passages are stored."""
    from sqlalchemy import func, select

    from watcher.models import Passage
    from watcher.pipeline.passages import source_intervals
    from watcher.search import search

    with store.session() as session:
        found: dict[str, Any] = {term: search(session, term, limit=100) for term in SEARCH_TERMS}
        found["since"] = search(session, SEARCH_TERMS[0], since=T0 + timedelta(days=365), limit=100)
        intervals = {
            source_id: sorted(repr(astuple(interval)) for interval in source_intervals(session, source_id))
            for source_id in range(1, sources + 1)
        }
        stored = session.scalar(select(func.count()).select_from(Passage)) or 0
    return found, intervals, stored


def reindex_check(url: str, *, sources: int) -> dict[str, Any]:
    """Whether the loader stored the index the write path builds: the answers (``index_answers``) of the
    loaded index, then after ``watcher.pipeline.passages.reindex`` rebuilt every source's runs over the
    loaded blocks (the index states deleted: it must find each line at the loader's key and store none
    again), then after it rebuilt the whole index from nothing (blocks, keys, term posting lists, runs:
    the write path's own). Changes the store: run it after the measurements."""
    from sqlalchemy import text

    from watcher.pipeline.passages import clear_terms, reindex

    store = Store(url, migrate=False)
    out: dict[str, Any] = {}
    try:
        loaded = index_answers(store, sources)
        out["passages_loaded"] = loaded[2]
        out["intervals_loaded"] = sum(len(rows) for rows in loaded[1].values())
        out["search_hits_loaded"] = {term: len(hits) for term, hits in loaded[0].items()}
        for step, tables in (
            ("runs_rebuilt", ("passage_index_state",)),
            ("all_rebuilt", ("passage_index_state", "run_passages", "passage_runs", "passages", "passage_blocks")),
        ):
            with store.session() as session:
                if "passage_blocks" in tables:
                    clear_terms(session)
                for table in tables:
                    session.execute(text(f"DELETE FROM {table}"))
                reindex(session, commit=session.commit)
            rebuilt = index_answers(store, sources)
            out[step] = {
                "same_searches": loaded[0] == rebuilt[0],
                "same_intervals": loaded[1] == rebuilt[1],
                "passages": rebuilt[2],
                "terms_differing": [term for term in loaded[0] if loaded[0][term] != rebuilt[0][term]],
                "sources_differing": [s for s in loaded[1] if loaded[1][s] != rebuilt[1][s]][:10],
            }
    finally:
        store.dispose()
    return out


# --- backends --------------------------------------------------------------------------------------

# What the search index costs, beside the rest: tables with their indexes.
INDEX_TABLES = (
    "passage_blocks",
    "passages",
    "passage_runs",
    "run_passages",
    "passage_index_state",
    BLOCK_TERMS_TABLE,
    "indication_steps",
)


def sqlite_table_sizes(path: Path) -> dict[str, int]:
    """Bytes per table, its indexes (and an FTS5 table's shadow tables) included (the dbstat table)."""
    import sqlite3

    db = sqlite3.connect(path)
    try:
        owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_schema").fetchall())
        sizes: dict[str, int] = {}
        for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            table = next((t for t in sorted(INDEX_TABLES, key=len, reverse=True) if table.startswith(t + "_")), table)
            sizes[table] = sizes.get(table, 0) + int(size)
        return dict(sorted(sizes.items(), key=lambda item: -item[1]))
    finally:
        db.close()


def postgres_table_sizes(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as db:
        rows = db.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC"
        ).fetchall()
    return {name: int(size) for name, size in rows}


def sizes_summary(sizes: dict[str, int], total: int, versions: int) -> dict[str, Any]:
    index = sum(size for name, size in sizes.items() if name in INDEX_TABLES)
    return {
        "table_bytes": sizes,
        "search_index_bytes": index,
        "bytes_per_version": round(total / versions),
        "search_index_bytes_per_version": round(index / versions),
    }


def run_sqlite(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    import sqlite3

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="watcher-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "history.db"
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    Store(url).dispose()  # migrations: the passages' FTS5 table, triggers, indexes
    log(f"SQLite {sqlite3.sqlite_version}: {path}")
    started = time.perf_counter()
    loader = SqliteLoader(path)
    counts = generate_and_load(
        loader, sources=args.sources, versions=args.versions, seed=args.seed, placeholder="?", log=log
    )
    loader.finish()
    load_seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in workdir.glob("history.db*"))
    log(f"loaded in {load_seconds:.0f} s, {size / 1e9:.2f} GB")
    result: dict[str, Any] = {
        "backend": f"sqlite {sqlite3.sqlite_version}",
        "rows": counts,
        "load_seconds": round(load_seconds),
        "size_bytes": size,
        **sizes_summary(sqlite_table_sizes(path), size, counts["versions"]),
        "queries": measure(url, sources=args.sources, queries=args.queries, seed=args.seed),
    }
    if args.verify:
        result["reindex_check"] = reindex_check(url, sources=args.sources)
    if not args.keep:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            for leftover in workdir.glob("history.db*"):
                leftover.unlink()
    return result


def run_postgres(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    import psycopg

    admin_url = args.postgres_admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"watcher_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        version = admin.execute("SHOW server_version").fetchone()
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    log(f"PostgreSQL {version[0] if version else '?'}: database {name}")
    try:
        Store(url).dispose()
        started = time.perf_counter()
        loader = PostgresLoader(url)
        loader.execute(f"DROP INDEX {BLOCK_TERMS_INDEX}")
        loader.commit()
        counts = generate_and_load(
            loader, sources=args.sources, versions=args.versions, seed=args.seed, placeholder="%s", log=log
        )
        index_started = time.perf_counter()
        loader.execute("SET maintenance_work_mem = '1GB'")
        loader.execute(
            f"CREATE INDEX {BLOCK_TERMS_INDEX} ON passage_blocks USING gin ({TERMS_FUNCTION}(text)) "
            "WITH (fastupdate = off)"
        )
        loader.commit()
        index_seconds = time.perf_counter() - index_started
        loader.finish()
        load_seconds = time.perf_counter() - started
        with psycopg.connect(url) as db:
            row = db.execute(
                f"SELECT pg_database_size(current_database()), pg_relation_size('{BLOCK_TERMS_INDEX}')"
            ).fetchone()
        size, index_size = row or (0, 0)
        log(f"loaded in {load_seconds:.0f} s (term index {index_seconds:.0f} s), {size / 1e9:.2f} GB")
        result: dict[str, Any] = {
            "backend": f"postgresql {version[0] if version else '?'}",
            "rows": counts,
            "load_seconds": round(load_seconds),
            "term_index_seconds": round(index_seconds),
            "size_bytes": size,
            "term_index_bytes": index_size,
            **sizes_summary(postgres_table_sizes(url), size, counts["versions"]),
            "queries": measure(url, sources=args.sources, queries=args.queries, seed=args.seed),
        }
        if args.verify:
            result["reindex_check"] = reindex_check(url, sources=args.sources)
        return result
    finally:
        if not args.keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000_000, help="text versions in all")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--queries", type=int, default=200, help="timed timelines and alert listings per backend")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", help="where the SQLite file goes (default: a temporary directory)")
    parser.add_argument(
        "--postgres-admin-url",
        default=os.environ.get("WATCHER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--verify",
        action="store_true",
        help="after the measurements, compare the loaded index with the one watcher's reindex builds (small runs)",
    )
    parser.add_argument("--json", dest="json_out", help="also write the results to this file")
    parser.add_argument(
        "--measure", metavar="DATABASE_URL", help="only time the queries on a database kept by an earlier run (--keep)"
    )
    args = parser.parse_args(argv)
    if args.measure:
        measured = measure(args.measure, sources=args.sources, queries=args.queries, seed=args.seed)
        print(json.dumps(measured, ensure_ascii=False, indent=2))
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    where = Path(args.workdir or tempfile.gettempdir()).resolve()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    need = args.versions * 8_000  # generous: ~4 KB per version per backend (text, index, raw, profile)
    if free < need:
        log(f"only {free / 1e9:.1f} GB free where about {need / 1e9:.1f} GB may be needed: use fewer --versions")
        return 2
    results: dict[str, Any] = {"sources": args.sources, "versions": args.versions, "runs": []}
    if args.backend in ("sqlite", "both"):
        results["runs"].append(run_sqlite(args, log))
    if args.backend in ("postgresql", "both"):
        results["runs"].append(run_postgres(args, log))
    text = json.dumps(results, ensure_ascii=False, indent=2)
    print(text)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
