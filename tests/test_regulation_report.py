"""The regulator's report on a demo-like clinic: three captures of a culture-supernatant page go through
the real pipeline (extraction, profiles, findings, alerts) on SQLite and PostgreSQL; then the report
from the CLI (html, csv, json), the dashboard page and downloads, and the matrix's category filter.
Pages written for this project."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from alert_factory import T0, add_source, feed, page
from fastapi.testclient import TestClient
from sqlalchemy import select

from watcher.config import Settings
from watcher.db import Store
from watcher.models import Alert, Snapshot
from watcher.web.app import create_app

CLINIC, URL = "Hinoki Skin Clinic", "https://hinoki.example/supernatant"
OTHER, OTHER_URL = "Kaede Mental Clinic", "https://kaede.example/tms"
HEAD = "<h1>幹細胞培養上清液の点滴</h1><p>幹細胞培養上清液の点滴は慢性疲労の改善が期待されています。</p>"
COMMON = """<h2>費用と回数</h2><p>費用:1回55,000円(税込)。治療期間の目安は3か月、回数は6回程度です。</p>
<p>治療内容:培養上清液を生理食塩水に溶かして点滴します。</p>
<p>本治療に用いる培養上清液は、医薬品医療機器等法上の未承認医薬品です。</p>
<p>入手経路:国内の製造業者から医師の責任のもと購入しています。</p>
<p>国内で承認されている同一の成分の医薬品はありません。</p>
<p>諸外国において安全性に関する情報は十分に得られていません。</p>"""
RISKS = "<h2>副作用</h2><p>注射部位の内出血や、一時的な発熱がみられることがあります。</p>"
NO_RISK = "<h2>安全性</h2><p>ヒト由来の成分だけなので副作用はありません。</p>"
VOICES = """<h2>患者様の声</h2><p>点滴を受けてから、朝の疲れが嘘のように楽になりました&lt;script&gt;alert(1)&lt;/script&gt;。</p>
<p>当院の症例数は日本一です。</p>"""
V1 = page(HEAD + COMMON + RISKS)
V2 = page(HEAD + COMMON + NO_RISK + VOICES)
V3 = page(HEAD + COMMON + NO_RISK)
TMS = page("<h1>TMS治療</h1><p>TMS治療はうつ病の改善が期待されています。</p><p>TMS治療は保険適用です。</p>")


@pytest.fixture
def clinic(store: Store, settings: Settings) -> Iterator[tuple[int, list[str]]]:
    source = add_source(store, URL, CLINIC)
    feed(store, settings, source, URL, [V1, V2, V3])
    feed(store, settings, add_source(store, OTHER_URL, OTHER), OTHER_URL, [TMS])
    with store.session() as session:
        hashes = list(
            session.scalars(select(Snapshot.sha256).where(Snapshot.source_id == source).order_by(Snapshot.fetched_at))
        )
    yield source, hashes


def test_the_pipeline_raises_disclosure_removed_with_its_category(store: Store, clinic: tuple[int, list[str]]) -> None:
    source, _hashes = clinic
    with store.session() as session:
        alerts = list(session.scalars(select(Alert).where(Alert.source_id == source).order_by(Alert.id)))
    removed = [alert for alert in alerts if alert.kind == "disclosure_removed"]
    assert [(a.details["group"], a.categories) for a in removed] == [("risks_side_effects", ",missing_disclosure,")]
    assert removed[0].before is not None and "内出血" in removed[0].before
    safety = next(alert for alert in alerts if alert.kind == "safety_claim_added")
    assert safety.categories == ",false_advertising,"


def test_report_as_json_csv_and_html(run_cli, clinic: tuple[int, list[str]]) -> None:  # type: ignore[no-untyped-def]
    source, (sha1, sha2, sha3) = clinic
    result = run_cli("report", "--clinic", CLINIC.lower(), "--format", "json")
    assert result.code == 0, result.err
    report = result.json()
    [page_report] = report["pages"]
    assert page_report["source_id"] == source and page_report["captures"] == 3
    assert (page_report["first_capture"]["sha256"], page_report["latest_capture"]["sha256"]) == (sha1, sha3)
    assert page_report["categories_now"] == ["false_advertising"]
    assert page_report["disclosure_scopes"] == ["free_treatment", "unapproved"]

    def entries(kind: str, ident: str) -> list[dict[str, Any]]:
        key = "categories" if kind == "category" else "missing_disclosures"
        found = [item for item in page_report[key] if item["id"] == ident]
        assert found, ident
        return found

    # Table-driven: (type, id, first capture, last capture, still there now)
    expected = [
        ("category", "false_advertising", sha2, sha3, True),
        ("category", "testimonial", sha2, sha2, False),
        ("category", "comparative_superiority", sha2, sha2, False),
        ("missing_disclosure", "risks_side_effects", sha2, sha3, True),
    ]
    for kind, ident, first, last, now in expected:
        for item in entries(kind, ident):  # every evidence sentence of it has this history
            history = (item["first_seen"]["sha256"], item["last_seen"]["sha256"], item["present_now"])
            assert history == (first, last, now), (ident, item["evidence"])
    assert "副作用はありません" in str(entries("category", "false_advertising")[0]["evidence"])
    assert "楽になりました" in " ".join(str(item["evidence"]) for item in entries("category", "testimonial"))
    assert entries("missing_disclosure", "risks_side_effects")[0]["evidence"] is None
    assert {item["id"] for item in page_report["missing_disclosures"]} == {"risks_side_effects"}

    rows = list(csv.DictReader(io.StringIO(run_cli("report", "--clinic", CLINIC, "--format", "csv").out)))
    assert len(rows) == len(page_report["categories"]) + len(page_report["missing_disclosures"])
    testimonial = next(row for row in rows if row["id"] == "testimonial")
    assert (testimonial["name_ja"], testimonial["present_now"], testimonial["first_sha256"]) == (
        "体験談",
        "False",
        sha2,
    )
    assert testimonial["first_seen"].startswith(T0.date().isoformat()[:8])

    html = run_cli("report", "--clinic", CLINIC).out
    assert html.startswith("<!DOCTYPE html>") and sha2 in html and "体験談" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "<link" not in html and "src=" not in html, "the file fetches nothing"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("report", "--clinic", "Nobody"), "no clinic named 'Nobody'"),
        (("report", "--clinic", CLINIC, "--format", "pdf"), "pdf"),
    ],
)
def test_report_bad_input_is_one_line(
    run_cli,
    clinic: tuple[int, list[str]],
    args: tuple[str, ...],  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    result = run_cli(*args)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err


def test_report_file_and_excel(run_cli, clinic: tuple[int, list[str]], tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.csv"
    result = run_cli("report", "--clinic", CLINIC, "--format", "csv", "--excel", "--output", str(out))
    assert result.code == 0 and "written as csv" in result.err
    data = out.read_bytes()
    assert data.startswith("\ufeff".encode()) and b"\r\n" in data


def test_dashboard_report_downloads_and_matrix_filter(
    settings: Settings, store: Store, clinic: tuple[int, list[str]]
) -> None:
    _source, (_sha1, sha2, _sha3) = clinic
    with TestClient(create_app(replace(settings))) as client:
        clinics = {item["name"]: item["id"] for item in client.get("/api/clinics").json()}
        hinoki, kaede = clinics[CLINIC], clinics[OTHER]
        page_html = client.get(f"/clinics/{hinoki}/report")
        assert page_html.status_code == 200 and sha2 in page_html.text and "体験談" in page_html.text
        assert "<script>alert" not in page_html.text
        download = client.get(f"/clinics/{hinoki}/report", params={"format": "csv"})
        assert download.headers["content-disposition"].startswith("attachment;")
        assert download.content.startswith("\ufeff".encode())
        assert client.get(f"/clinics/{hinoki}/report", params={"format": "json"}).json()["clinic"] == CLINIC
        assert client.get(f"/clinics/{hinoki}/report", params={"format": "xml"}).status_code == 400
        assert f"/clinics/{hinoki}/report" in client.get(f"/clinics/{hinoki}").text

        everything = client.get("/matrix").text
        assert f"/clinics/{hinoki}" in everything and f"/clinics/{kaede}" in everything
        false_ads = client.get("/matrix", params={"category": "虚偽広告"}).text
        assert f'/clinics/{hinoki}"' in false_ads and f'/clinics/{kaede}"' not in false_ads
        testimonials = client.get("/matrix", params={"category": "testimonial"}).text
        assert f'/clinics/{hinoki}"' not in testimonials, "the testimonials were removed in the latest capture"
        assert client.get("/matrix", params={"category": "nonsense"}).status_code == 400
