from __future__ import annotations

from pathlib import Path

import pytest

from watcher.errors import InputError
from watcher.sources import format_interval, normalize_url, parse_interval

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "seconds"), [("1d", 86400), ("6h", 21600), ("30m", 1800), ("2w", 1209600), ("45s", 45), (" 1.5h ", 5400)]
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds
    assert parse_interval(format_interval(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "1", "d", "1y", "-1d", "0s", "1 day", "367d", "99999999999w"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(InputError, match="invalid interval"):
        parse_interval(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Example.COM", "https://example.com/"),
        ("https://example.com/a?b=1#frag", "https://example.com/a?b=1"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        (
            "https://wako-psy-clinic.com/blog/%e3%83%96/1924.html",
            "https://wako-psy-clinic.com/blog/%e3%83%96/1924.html",
        ),
    ],
)
def test_normalize_url(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com",
        "ftp://example.com/",
        "javascript:alert(1)",
        "https://",
        "http://exa mple.com/",
        "https://user:pw@example.com/",
        "http://host:99999/",
    ],
)
def test_normalize_url_rejects(url: str) -> None:
    with pytest.raises(InputError):
        normalize_url(url)


def test_sources_add_list_json(run_cli) -> None:  # type: ignore[no-untyped-def]
    one = run_cli("sources", "add", "https://a.example/p1", "--clinic", "Clinic A", "--interval", "6h", "--json")
    assert one.code == 0, one.err
    data = one.json()
    assert data["url"] == "https://a.example/p1" and data["id"] >= 1 and data["clinic"] == "Clinic A"
    many = run_cli("sources", "add", "https://a.example/p2", "https://b.example/", "--site", "--json")
    assert many.code == 0, many.err
    rows = many.json()
    assert [r["url"] for r in rows] == ["https://a.example/p2", "https://b.example/"]
    assert all(r["kind"] == "site" for r in rows)
    listing = run_cli("sources", "list", "--json").json()
    assert [r["url"] for r in listing] == ["https://a.example/p1", "https://a.example/p2", "https://b.example/"]
    assert listing[0]["interval"] == "6h"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sources", "add", "not a url"), "invalid URL"),
        (("sources", "add", "ftp://x.example/"), "only http and https"),
        (("sources", "add", "https://x.example/", "--interval", "often"), "invalid interval"),
        (("sources", "add", "https://x.example/", "https://x.example/"), "given twice"),
        (("sources", "add"), "Missing argument"),
        (("history", "999"), "no source"),
        (("diff", "https://nowhere.example/"), "no source"),
        (("check", "12345"), "no source"),
        (("sources", "import", "/nonexistent/file.yaml"), "cannot read"),
        (("frobnicate",), "No such command"),
    ],
)
def test_bad_cli_input_is_one_line(run_cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(*args)
    assert result.code != 0
    assert message in result.err
    assert "Traceback" not in result.err
    assert len([line for line in result.err.splitlines() if line.startswith("error:")]) == 1


def test_duplicate_source_rejected_and_nothing_lost(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("sources", "add", "https://a.example/").code == 0
    again = run_cli("sources", "add", "https://b.example/", "https://A.example")
    assert again.code == 2 and "already watched: https://a.example/" in again.err
    # the whole call is rejected: b.example was not added either, a.example is still there once
    assert [r["url"] for r in run_cli("sources", "list", "--json").json()] == ["https://a.example/"]


def test_bad_config_is_one_line(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WATCHER_DOWNLOAD_DELAY", "soon")
    result = run_cli("sources", "list")
    assert result.code == 2
    assert "WATCHER_DOWNLOAD_DELAY='soon' is invalid" in result.err
    monkeypatch.setenv("WATCHER_DOWNLOAD_DELAY", "1")
    monkeypatch.setenv("WATCHER_DATABASE_URL", "mysql://x/y")
    assert "only sqlite and postgresql" in run_cli("sources", "list").err


def test_import_seed_file_is_idempotent(run_cli) -> None:  # type: ignore[no-untyped-def]
    seeds = REPO / "seeds" / "sources.yaml"
    first = run_cli("sources", "import", str(seeds), "--json")
    assert first.code == 0, first.err
    added = first.json()["added"]
    assert len(added) >= 5
    assert any("wako-psy-clinic.com" in row["url"] for row in added)
    assert {row["kind"] for row in added} == {"page", "site"}
    second = run_cli("sources", "import", str(seeds), "--json").json()
    assert second["added"] == [] and len(second["skipped"]) == len(added)


def test_import_rejects_malformed_yaml(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [\n  - url: https://x\n", encoding="utf-8")
    result = run_cli("sources", "import", str(bad))
    assert result.code == 2 and "not valid YAML" in result.err
    bad.write_text("sources:\n  - clinic: nobody\n", encoding="utf-8")
    assert "needs a 'url'" in run_cli("sources", "import", str(bad)).err
