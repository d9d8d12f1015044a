"""Bytes to text: BOM, then declared charsets, then detection among the encodings Japanese sites use.

A declaration is trusted unless the body proves it wrong:

* it does not decode (more than a stray byte or a character cut by truncation), or
* it names a legacy encoding (Shift_JIS, EUC-JP, Latin-1, ...) while the body is valid UTF-8 with
  multi-byte characters. Sites migrated to UTF-8 often keep their old ``<meta charset>`` or get a
  server default ``ISO-8859-1`` header; valid UTF-8 multi-byte sequences almost never arise by
  chance from Shift_JIS or EUC-JP text, so UTF-8 is the safe reading. Browsers would show
  mojibake here; a watchdog wants the text.

Declared Shift_JIS (and its aliases) is decoded as cp932, the Microsoft superset that real pages
use (①, ㈱, NEC and IBM kanji); Python's ``shift_jis`` rejects those bytes. Latin-1 and ASCII labels
mean windows-1252, as in every browser. Undetectable junk never raises: the last resort is
UTF-8 with replacement characters.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

from watcher.extract.normalize import count_chars


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # Python codec name: 'utf-8', 'cp932', 'euc_jp', 'cp1252', ...


_SNIFF_BYTES = 4096

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_WINDOWS_1252 = "cp1252"
_LABELS: dict[str, str] = {
    **dict.fromkeys(
        (
            "shift_jis",
            "shift-jis",
            "sjis",
            "x-sjis",
            "s-jis",
            "shiftjis",
            "ms_kanji",
            "ms-kanji",
            "csshiftjis",
            "windows-31j",
            "cswindows31j",
            "cp932",
            "ms932",
            "x-ms-cp932",
            "mskanji",
        ),
        "cp932",
    ),
    **dict.fromkeys(("euc-jp", "eucjp", "x-euc-jp", "euc_jp", "cseucpkdfmtjapanese", "ujis"), "euc_jp"),
    **dict.fromkeys(("iso-2022-jp", "iso2022jp", "csiso2022jp", "iso2022_jp"), "iso2022_jp"),
    **dict.fromkeys(("utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8"), "utf-8"),
    **dict.fromkeys(
        (
            "iso-8859-1",
            "iso8859-1",
            "iso_8859-1",
            "latin1",
            "latin-1",
            "l1",
            "us-ascii",
            "ascii",
            "ansi_x3.4-1968",
            "windows-1252",
            "cp1252",
            "x-cp1252",
            "cp819",
            "ibm819",
            "csisolatin1",
        ),
        _WINDOWS_1252,
    ),
}
# Codecs Python knows that are not web encodings (or are unsafe to honour: UTF-7 smuggles markup).
_REFUSED = {
    "utf-7",
    "unicode-escape",
    "raw-unicode-escape",
    "idna",
    "punycode",
    "undefined",
    "x-user-defined",
    "unicode-internal",
}
# Single-byte and legacy multi-byte labels, which lose to a body that is valid multi-byte UTF-8.
_LEGACY = {"cp932", "euc_jp", "iso2022_jp", _WINDOWS_1252}

_CHARSET_PARAM = re.compile(r"""charset\s*=\s*["']?\s*([^"'\s;,]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_:.+-]+)""", re.IGNORECASE)
_ISO2022_ESCAPE = re.compile(rb"\x1b\$[@B]|\x1b\(J")
_KANA = re.compile("[\u3041-\u30ff]+")
_KANJI = re.compile("[\u4e00-\u9fff]+")
# half-width katakana, private use, C1 controls, replacement character
_DEBRIS = re.compile("[\uff61-\uff9f\ue000-\uf8ff\x80-\x9f\ufffd]+")


def codec_for(label: str, *, from_meta: bool = False) -> str | None:
    """The Python codec for a charset label, or None when it is unknown or not a text encoding."""
    label = label.strip().strip("\"'").lower()
    if not label:
        return None
    if label in _LABELS:
        return _LABELS[label]
    if label.startswith(("utf-16", "utf-32", "utf16", "utf32")) and from_meta:
        # A meta tag that can be read as ASCII cannot be UTF-16; browsers read such pages as UTF-8.
        return "utf-8"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    # bytes-to-bytes codecs (base64, rot13, zlib, hex) are not charsets
    if not getattr(info, "_is_text_encoding", True):
        return None
    name = info.name
    if name.replace("_", "-") in _REFUSED:
        return None
    return _LABELS.get(name.replace("_", "-"), name)


def declared_charset(content_type: str | None) -> str | None:
    """The raw charset label of a Content-Type header value, if any."""
    if not content_type:
        return None
    match = _CHARSET_PARAM.search(content_type)
    return match.group(1) if match else None


def _meta_charset(body: bytes) -> str | None:
    head = body[:_SNIFF_BYTES]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii", "replace") if match else None


def _decode_leniently(body: bytes, encoding: str) -> tuple[str, int]:
    """Decode, returning the text and how many bad byte sequences were replaced."""
    try:
        return body.decode(encoding), 0
    except UnicodeDecodeError:
        pass
    except (LookupError, ValueError, TypeError):  # an exotic codec misbehaving: not this one
        return "", len(body) + 1
    text = body.decode(encoding, errors="replace")
    if encoding == "utf-8":
        return text, text.count("\ufffd") - body.count(b"\xef\xbf\xbd")
    return text, text.count("\ufffd")


def _acceptable(text: str, errors: int) -> bool:
    """A stray byte or a character cut by truncation is tolerated; a wrong encoding is not.

    Tolerated means: many well-formed multi-byte characters around a handful of bad sequences.
    """
    if errors == 0:
        return True
    decoded = len(text) - len(text.encode("ascii", "ignore")) - errors
    return decoded >= 10 * errors and errors <= max(2, decoded // 200)


def _is_multibyte_utf8(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _japanese_score(text: str) -> int:
    """How much the text looks like Japanese; negative for the debris of a wrong legacy decoding.

    Decoding EUC-JP as cp932 yields strings of half-width katakana, and decoding Latin text as
    cp932 yields kanji without kana; real Japanese prose is a third or more kana.
    """
    kana = count_chars(_KANA, text)
    kanji = count_chars(_KANJI, text)
    debris = count_chars(_DEBRIS, text)
    if kana == 0 or kana * 5 < kana + kanji:
        return 0
    return kana + kanji - 3 * debris


def _detect(body: bytes, *, lenient: bool) -> Decoded | None:
    if body.isascii() and _ISO2022_ESCAPE.search(body):
        try:
            return Decoded(body.decode("iso2022_jp"), "iso2022_jp")
        except UnicodeDecodeError:
            pass
    try:
        return Decoded(body.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    best: tuple[int, Decoded] | None = None
    for encoding in ("cp932", "euc_jp"):
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError:
            continue
        score = _japanese_score(text)
        if score > 0 and (best is None or score > best[0]):
            best = (score, Decoded(text, encoding))
    if best is not None or not lenient:
        return best[1] if best else None
    # Nothing decodes cleanly: a stray byte, or a multi-byte character cut at a size limit.
    for encoding in ("utf-8", "cp932", "euc_jp"):
        text, errors = _decode_leniently(body, encoding)
        if _acceptable(text, errors) and (encoding == "utf-8" or _japanese_score(text) > 0):
            return Decoded(text, encoding)
    return None


def _declared(body: bytes, content_type: str | None) -> Iterator[str | None]:
    """The codecs the header, then the markup, declare (None: none or unknown), the markup read only
    when the header's is not taken: a page served with its charset is not searched for a meta tag."""
    header_label = declared_charset(content_type)
    yield codec_for(header_label) if header_label else None
    meta_label = _meta_charset(body)
    yield codec_for(meta_label, from_meta=True) if meta_label else None


def decode_body(body: bytes, *, content_type: str | None = None) -> Decoded:
    """Decode a fetched body; never raises."""
    if not body:
        return Decoded("", "utf-8")
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return Decoded(body[len(bom) :].decode(encoding, errors="replace"), encoding)

    fallback_western = False
    multibyte_utf8: bool | None = None  # asked only of a legacy label: a check decodes the whole body
    for label in _declared(body, content_type):
        if label is None:
            continue
        if label in _LEGACY:
            if multibyte_utf8 is None:
                multibyte_utf8 = _is_multibyte_utf8(body)
            if multibyte_utf8:
                return Decoded(body.decode("utf-8"), "utf-8")
        if label.startswith(("utf-16", "utf-32")) and b"\x00" not in body[:_SNIFF_BYTES]:
            continue  # UTF-16 markup is half NUL bytes; without any, the label is wrong
        if label == _WINDOWS_1252 and not body.isascii():
            # Usually a server default rather than a choice: let a meta tag or detection speak first.
            fallback_western = True
            continue
        text, errors = _decode_leniently(body, label)
        if _acceptable(text, errors):
            return Decoded(text, label)

    detected = _detect(body, lenient=not fallback_western)
    if detected is not None:
        return detected
    # Neither UTF-8 nor Japanese: a Western single-byte page, declared or not.
    text, errors = _decode_leniently(body, _WINDOWS_1252)
    if errors == 0 or fallback_western:
        return Decoded(text, _WINDOWS_1252)
    return Decoded(body.decode("utf-8", errors="replace"), "utf-8")
