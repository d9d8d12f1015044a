"""The preset dictionaries of the compressed columns (watcher.zdicts) and the column types that use them."""

from __future__ import annotations

import hashlib
import zlib

from sqlalchemy import create_engine

from watcher.models import ZlibJSON, ZlibText, compact_json
from watcher.zdicts import DICTIONARIES, HEADERS, PROFILE, TEXT

# A released dictionary is part of the stored format: rows written with it are read with it. Changing
# one (rather than adding a new number) would make those rows unreadable or wrong.
RELEASED = {
    1: "6c3e1216593df8c1e140cc95e195a036a81f9e96b1b69c254f19d7dde03c5f73",
    2: "f7e747cbde21bfbeeb4865c5c5e9b60b6557229270011c86366220f5b426a65c",
    3: "5be7cb25f5f6b295a694b6d78bee44af85999ad994f30d5cecc19df195a74fb5",
}
DIALECTS = (create_engine("sqlite://").dialect, create_engine("postgresql+psycopg://").dialect)

RESPONSE_HEADERS = {
    "Server": ["nginx"],
    "Date": ["Tue, 03 Nov 2026 04:12:09 GMT"],
    "Content-Type": ["text/html; charset=UTF-8"],
    "Transfer-Encoding": ["chunked"],
    "Connection": ["keep-alive"],
    "Vary": ["Accept-Encoding"],
    "X-Powered-By": ["PHP/8.1.29"],
    "Link": ['<https://clinic.example/wp-json/>; rel="https://api.w.org/"'],
    "Strict-Transport-Security": ["max-age=31536000"],
    "Content-Encoding": ["gzip"],
}
CLINIC_TEXT = (
    "# 幹細胞培養上清液点滴について\n当院では幹細胞培養上清液の点滴を行っています。疲労感や肌の老化、"
    "認知機能の低下に効果が期待されています。効果には個人差があります。\n## 料金\n初回 33,000円(税込)\n"
    "## 副作用・リスク\n注射部位の内出血、発熱などがあります。本治療は自由診療です。国内で承認されている医薬品は"
    "ありません。\nStem cell culture supernatant therapy may help with fatigue. Results may vary."
)


def test_released_dictionaries_are_unchanged() -> None:
    assert {number: hashlib.sha256(preset).hexdigest() for number, preset in DICTIONARIES.items()} == RELEASED
    assert {PROFILE, HEADERS, TEXT} <= set(DICTIONARIES)


def test_no_dictionary_number_is_a_zlib_header() -> None:
    """A plain zlib row starts with 0x78 (deflate, 32 KiB window): that byte must not name a dictionary,
    or rows written before their column had a dictionary would be misread."""
    assert 0x78 not in DICTIONARIES
    assert all(zlib.compress(b"x", level)[0] == 0x78 for level in range(10))


def test_texts_with_the_dictionary_read_back_and_plain_rows_still_do() -> None:
    """Every kind of text reads back identical, whatever the reading column's dictionary, and a clinic
    text takes fewer bytes with the dictionary than as plain zlib."""
    texts = [CLINIC_TEXT, "", "English line\n" * 4000, "末尾".join(str(n) for n in range(20000))]
    for dialect in DIALECTS:
        for text in texts:
            stored = ZlibText(TEXT).process_bind_param(text, dialect)
            plain = ZlibText().process_bind_param(text, dialect)
            assert stored is not None and plain is not None
            assert stored[0] == TEXT and plain[0] == 0x78
            for column in (ZlibText(TEXT), ZlibText()):
                assert column.process_result_value(stored, dialect) == text
                assert column.process_result_value(plain, dialect) == text
    clinic = ZlibText(TEXT).process_bind_param(CLINIC_TEXT, DIALECTS[0])
    assert clinic is not None and len(clinic) < 0.8 * len(zlib.compress(CLINIC_TEXT.encode(), 9))
    assert ZlibText(TEXT).process_bind_param(None, DIALECTS[0]) is None


def test_headers_with_the_dictionary_read_back_as_the_same_dict() -> None:
    """A capture's headers read back as the dict written (names' case, repeated values, non-ASCII),
    in well under the bytes of their JSON or of plain zlib."""
    headers = {**RESPONSE_HEADERS, "Set-Cookie": ["a=1; path=/", "b=2; HttpOnly"], "X-Note": ["日本語"]}
    for dialect in DIALECTS:
        for value in (headers, {}, RESPONSE_HEADERS):
            stored = ZlibJSON(HEADERS).process_bind_param(value, dialect)
            assert stored is not None and stored[0] == HEADERS
            assert ZlibJSON(HEADERS).process_result_value(stored, dialect) == value
            assert ZlibJSON().process_result_value(stored, dialect) == value
    document = compact_json(RESPONSE_HEADERS).encode()
    stored = ZlibJSON(HEADERS).process_bind_param(RESPONSE_HEADERS, DIALECTS[0])
    assert stored is not None and len(stored) < 0.6 * len(zlib.compress(document, 9)) < len(document)
