"""``watcher compare OLD_FILE NEW_FILE``: input it refuses with one line (exit 2), the size cap it shares
with captures, and the start-up rule: it never loads the database, the web stack or Scrapy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from watcher.cli import main

REPO = Path(__file__).resolve().parent.parent

HEDGED = "NMN点滴は慢性疲労の改善が期待されています。\n"
ASSERTED = "NMN点滴は慢性疲労を改善します。うつ病にも効果があります。\n"


def compare(capsys: pytest.CaptureFixture[str], old: Path, new: Path, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["compare", str(old), str(new), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(capsys: pytest.CaptureFixture[str], old: Path, new: Path) -> str:
    code, out, err = compare(capsys, old, new)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line, no traceback
    return err


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "page.txt"
    path.write_text(HEDGED, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "content",
    [b"", b"   \n\t\n", b"<html><body><script>var x = 1;</script></body></html>"],
    ids=["no bytes", "whitespace", "html without text"],
)
def test_empty_input_is_refused(
    tmp_path: Path, text_file: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(content)
    assert "is empty" in refused(capsys, empty, text_file)
    assert "is empty" in refused(capsys, text_file, empty)


def test_binary_input_is_refused(tmp_path: Path, text_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)
    assert "binary (it contains NUL bytes)" in refused(capsys, image, text_file)
    # No NUL byte, but no encoding reads it: bytes undefined in windows-1252, invalid in UTF-8 and Japanese.
    junk = tmp_path / "junk.txt"
    junk.write_bytes(b"\x81\x8d\x8f\x90\x9d" * 40)
    assert "do not decode as text" in refused(capsys, text_file, junk)


def test_wide_unicode_text_with_a_byte_order_mark_is_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_bytes(HEDGED.encode("utf-16"))  # with its BOM, and full of NUL bytes
    new.write_bytes(ASSERTED.encode("utf-16"))
    code, out, err = compare(capsys, old, new, "--json")
    assert code == 0, err
    assert ("new_indication", "depression") in {(f["kind"], f["indication"]) for f in json.loads(out)}


def test_input_larger_than_the_capture_cap_is_refused(
    tmp_path: Path, text_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = len(HEDGED.encode("utf-8"))
    monkeypatch.setenv("WATCHER_MAX_BODY_BYTES", str(limit))
    at_limit = tmp_path / "at_limit.txt"
    at_limit.write_text(HEDGED, encoding="utf-8")
    code, out, err = compare(capsys, text_file, at_limit)
    assert code == 0 and "no claim findings" in out, err
    over = tmp_path / "over.txt"
    over.write_text(HEDGED + "。", encoding="utf-8")
    err = refused(capsys, text_file, over)
    assert f"is larger than {limit} bytes (WATCHER_MAX_BODY_BYTES)" in err


def test_compare_loads_neither_the_database_nor_the_web_stack_nor_scrapy(tmp_path: Path) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text(HEDGED, encoding="utf-8")
    new.write_text(ASSERTED, encoding="utf-8")
    probe = (
        "import sys\n"
        "from watcher.cli import main\n"
        f"status = main(['compare', {str(old)!r}, {str(new)!r}, '--json'])\n"
        "print(repr(sorted(m for m in sys.modules if m.split('.')[0] in {'sqlalchemy', 'alembic', 'fastapi',"
        " 'starlette', 'uvicorn', 'jinja2', 'scrapy', 'twisted', 'psycopg'}"
        " or m in {'watcher.db', 'watcher.models'})), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert ("new_indication", "depression") in {(f["kind"], f["indication"]) for f in json.loads(done.stdout)}
    assert done.stderr.strip().splitlines()[-1] == "[]"
