"""Recognise references (DOIs, PMIDs, PubMed/PMC links, journal citations) and give each a stable key.

A reference has several identities — ``doi:``, ``pmid:``, ``pmc:``, ``author:<surname>:<year>``,
``url:`` — and two references are the same when they share any of them, so adding a DOI or a PubMed
link to a citation, reordering it, or cutting the author list to "et al." is not a removal. The
``key`` shown to users is the strongest identity: the DOI (lower-case), else the PMID, else the PMC id,
else the first author's normalised surname and the year, else the URL, else the normalised text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>,;]+)", re.IGNORECASE)
_PMID = re.compile(
    r"(?:\bPMID\s*:?\s*|pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/)(\d{5,9})", re.IGNORECASE
)
_PMC = re.compile(r"\b(PMC\d{4,9})\b", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"」』）)]+")
# What every DOI, PMID and PMC match contains: most lines have none, and one search rules all three out.
# Spelled out rather than re.IGNORECASE (the same matches: "i" also matches "İ" and "ı" under it), which
# lets the engine skip ahead on the first letters: a third of the time on a paragraph line.
_ANY_IDENTIFIER = re.compile(r"10\.\d|[pP][mM](?:[iIİı][dD]|[cC]\d)|[nN][cC][bB][iIİı]")
_YEAR = re.compile(r"(?<!\d)(19[5-9]\d|20[0-4]\d)(?!\d)")
# 34(9): 1390-1396 · ;21(18) · 94, 892-905 · vol. 12 · pp. 3-9 · 21:1234
_VOLUME_OR_PAGES = re.compile(
    r"\d+\s*\(\s*\d+(?:\s*[-–]\s*\d+)?\s*\)|;\s*\d+|\b\d{1,4}\s*:\s*[eE]?\d{1,6}\b|\b(?:vol|pp|p)\.\s*\d+"
    r"|\b\d{1,5}\s*[-–]\s*\d{1,5}\b",
    re.IGNORECASE,
)
_ET_AL = re.compile(r"\bet\s+al\b|[^\s]ら[,、.．]", re.IGNORECASE)
_NOT_A_CITATION = re.compile(r"TEL|Tel\b|電話|〒|営業時間|受付時間|診療時間|予約|\d{1,2}:\d{2}\s*[-~–]\s*\d{1,2}:\d{2}")
_DATE = re.compile(r"\b(?:19|20)\d{2}[-/.]\d{1,2}[-/.]\d{1,2}\b")
_LIST_MARK = re.compile(r"^\s*(?:\[\d{1,3}\]|\d{1,3}[.)]|[・•\-*])\s*")
_SEPARATORS = re.compile(r"[,.;]")
_TRAILING_PUNCTUATION = ".,;:)]}>'\""
_INITIAL = re.compile(r"^[A-Z]{1,3}\.?$|^[A-Z]\.(?:[A-Z]\.)*$")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*\.?")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_JAPANESE_ET_AL = re.compile(r"(?:ほか|他|ら|など)$")
# 「参照元: 道内の医科大学による症例報告」, "Source: ...": a line that names where a statement comes from.
_SOURCE_LABEL = re.compile(
    r"^\s*[(\[]?\s*(?:参照元|参照|出典|引用元|引用|参考文献|参考資料|参考|文献"
    r"|source|sources|reference|references|cited from|adapted from|data from)\s*[:：]\s*(?=\S)",
    re.IGNORECASE,
)
# Under a references heading, a line naming an institution or a guideline document is a reference even
# without a year or a link (「日本うつ病学会治療ガイドライン」, "NICE guideline on depression").
_INSTITUTION_OR_DOCUMENT = re.compile(
    r"大学|研究所|研究センター|学会|ガイドライン|指針|厚生労働省|医師会|協会|財団|白書|報告書"
    r"|universit|institut|college|academy|association|society|ministry|guideline|foundation|department of"
    r"|\bWHO\b|\bNIH\b|\bFDA\b|\bNICE\b",
    re.IGNORECASE,
)

MAX_CITATION_LENGTH = 500
MAX_AUTHOR_WORDS = 4


@dataclass(frozen=True, slots=True)
class Reference:
    key: str
    text: str
    identities: tuple[str, ...]

    def same_as(self, other: Reference) -> bool:
        return not set(self.identities).isdisjoint(other.identities)


def parse_reference(line: str, *, in_references_section: bool) -> Reference | None:
    """The reference a line gives, or None.

    Under a 参考文献/References heading any citation-like line counts (it has a year, a DOI, a PMID, a
    link, or names an institution or a guideline document); elsewhere a line needs a DOI, a PubMed/PMC
    id or link, a source label (参照元:, 出典:, "Source:"), or the shape of a journal citation (a year and
    volume/pages or "et al.").
    """
    text = _LIST_MARK.sub("", line).strip()
    if len(text) < 8:
        return None
    identifiers = _identifiers(text) if _may_identify(text) and _ANY_IDENTIFIER.search(text) else []
    if identifiers:
        return _reference(text, identifiers)
    if text.endswith("。") or len(text) > MAX_CITATION_LENGTH:
        return None
    year = _year(text)
    label = _SOURCE_LABEL.match(text)
    if not (year or label or in_references_section) or _NOT_A_CITATION.search(text):
        return None  # outside a references section a line without a year or a source label is no citation
    if label:
        # the label is not part of the identity: 「参照元:」 → 「出典:」 is no removal
        return _reference(text, [], plain=text[label.end() :])
    if in_references_section:
        if not (year or _URL.search(text) or _INSTITUTION_OR_DOCUMENT.search(text)):
            return None
    elif not (year and looks_like_citation(text)):
        return None
    return _reference(text, [])


def _may_identify(text: str) -> bool:
    """False when ``_ANY_IDENTIFIER`` cannot match: each of its matches holds "10." or a letter pair
    [pP][mM] or [nN][cC], which ``str.lower`` (character by character) turns into "pm" or "nc". Three
    substring tests cost less than the expression's scan of a line with none (most lines)."""
    if "10." in text:
        return True
    lowered = text.lower()
    return "pm" in lowered or "nc" in lowered


def looks_like_citation(text: str) -> bool:
    """A year, volume/pages or "et al.", and the commas or full stops that separate a citation's parts."""
    if not _year(text):
        return False
    undated = _DATE.sub(" ", text)
    if not (_VOLUME_OR_PAGES.search(undated) or _ET_AL.search(undated)):
        return False
    return len(_SEPARATORS.findall(text)) >= 2


def _year(text: str) -> re.Match[str] | None:
    """``_YEAR.search``; most lines hold neither "19" nor "20", which two substring tests tell far faster
    than the regex's look-behind at every position."""
    return _YEAR.search(text) if "19" in text or "20" in text else None


def _identifiers(text: str) -> list[str]:
    found: list[str] = []
    for match in _DOI.finditer(text):
        found.append("doi:" + match.group(1).rstrip(_TRAILING_PUNCTUATION).lower())
    found += ["pmid:" + match.group(1) for match in _PMID.finditer(text)]
    found += ["pmc:" + match.group(1).upper() for match in _PMC.finditer(text)]
    return list(dict.fromkeys(found))


def _reference(text: str, identifiers: list[str], *, plain: str | None = None) -> Reference:
    identities = list(identifiers)
    author = first_author_surname(text)
    year = _year(_URL.sub(" ", text))
    if author and year:
        identities.append(f"author:{author}:{year.group(1)}")
    identities += ["url:" + _normalise_url(match.group(0)) for match in _URL.finditer(text)]
    if not identities:
        identities.append("text:" + _normalise_text(text if plain is None else plain))
    return Reference(key=identities[0], text=text, identities=tuple(dict.fromkeys(identities)))


def first_author_surname(text: str) -> str | None:
    """The first author's surname, lower-case and without accents.

    Handles "Staff NP, ...", "Staff, N. P., ...", "Nathan P Staff, ...", "N. P. Staff et al." and a
    Japanese "西田, ...". A head longer than four words is a title, not an author.
    """
    head = _URL.sub(" ", text).split(",")[0]
    head = re.split(r"\bet\s+al\b|\(|\d|:", head, maxsplit=1, flags=re.IGNORECASE)[0]
    words = _author_words(_NAME_WORD.findall(head))
    if not words or len(words) > MAX_AUTHOR_WORDS:
        return None
    names = [word.rstrip(".") for word in words if not _INITIAL.match(word)]
    if not names:
        return None
    if _JAPANESE.search(names[0]):
        # 「田中健ほか」「田中健他」「田中ら」: the Japanese "et al." is not part of the name
        return _JAPANESE_ET_AL.sub("", names[0]) or names[0]
    initial_last = bool(_INITIAL.match(words[-1])) or len(words) == 1
    surname = names[0] if initial_last else names[-1]
    return _fold_name(surname)


def _author_words(words: list[str]) -> list[str]:
    """The words of the author part when no comma ends it: "Tanaka K. Exosomes for stroke." ends after
    "K." (an initial after a name, with a title behind it); "Alan B. Smith" does not end at "B."."""
    seen_name = False
    for index, word in enumerate(words):
        if _INITIAL.match(word):
            if seen_name and word.endswith(".") and len(words) - index - 1 > 1:
                return words[: index + 1]
            continue
        if word.endswith(".") and len(word) > 3:
            return words[: index + 1]
        seen_name = True
    return words


def _fold_name(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).lower()


def _normalise_url(url: str) -> str:
    url = url.rstrip(_TRAILING_PUNCTUATION)
    url = re.sub(r"^https?://(?:www\.)?", "", url, flags=re.IGNORECASE)
    host, _, path = url.partition("/")
    path = re.sub(r"[?#].*$", "", path).rstrip("/")
    return host.lower() + ("/" + path if path else "")


def _normalise_text(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())[:120]
