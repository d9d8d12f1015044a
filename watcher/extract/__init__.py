"""Text extraction: bytes → text (``decode_body``), HTML → main text (``extract_main_text``).

Why hand-written lxml rules rather than trafilatura: the claim analyser reads a fixed line format
(``#`` headings with their level, ``- `` list items, `` | `` table rows, DOI/PubMed links kept
in reference lines) and needs the lists of conditions under headings kept whole. Measured on our
fixture pages with trafilatura 2.3.1 (markdown output, tables and formatting on):

* ``div_layout.html`` (no <main>/<article>): it dropped the h1/h2/h3 headings, and by default
  the list of symptoms too — the very list a claim is made of;
* ``malformed.html``: it fell back to a fragment dump with the menu ("トップ | ブログ") in it and
  sentences cut at every inline tag;
* ``wp_blog_post.html``: good, but it kept the comment form heading, kept source newlines inside
  Japanese sentences, and kept DOI links only as markdown links (all or none);
* about 7 ms per page against about 1.5 ms here.

Its output would also move with its releases, and every move re-derives every stored text
version. Here each rule is small, named and proven on the fixture pages in
``tests/fixtures/pages`` (``tests/test_extract.py``); ``EXTRACTOR_VERSION`` changes only when we
change a rule; lxml is already a dependency and parses broken HTML the way libxml2 always has.

Modules: ``decode`` (charset), ``html`` (main text), ``normalize`` (NFKC, lines), ``language``
(ja/en/mixed), ``document`` (decode + HTML or plain text, for captures and ``watcher compare``),
``selectors`` (per-source CSS ``select``/``drop``). Scores on a public benchmark beside trafilatura:
``benchmarks/extraction.py`` and ``benchmarks/README.md``.
"""

from __future__ import annotations

from watcher.extract.decode import Decoded, decode_body
from watcher.extract.document import extract_document, is_html
from watcher.extract.html import EXTRACTOR_VERSION, Extracted, extract_main_text, extractor_version
from watcher.extract.language import detect_language
from watcher.extract.normalize import normalize_text
from watcher.extract.selectors import NO_SELECTORS, Selectors

__all__ = [
    "EXTRACTOR_VERSION",
    "NO_SELECTORS",
    "Decoded",
    "Extracted",
    "Selectors",
    "decode_body",
    "detect_language",
    "extract_document",
    "extract_main_text",
    "extractor_version",
    "is_html",
    "normalize_text",
]
