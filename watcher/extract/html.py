"""Main text of an HTML page, one block per line, in the format the claim analyser reads.

Output format (keep it exact; ``watcher.claims`` parses it):

* one block per line; ``<br>`` starts a new line;
* headings ``# `` .. ``###### `` + text (h1 .. h6);
* list items ``- `` + text, nested lists flattened, one item per line;
* table rows: cells joined by `` | ``;
* inline markup joined as a browser lays it out (no space added inside Japanese, one space
  between English words); ruby keeps its base text; images add nothing (their alt text is
  mostly "logo" or "banner"); link text kept, URLs dropped, except DOI/PubMed/PMC links whose
  text does not already carry the identifier: `` (https://doi.org/...)`` is appended so that a
  reference stays identifiable;
* NFKC-normalised, lines stripped, empty lines and consecutive duplicate lines dropped; lines that
  are only a date ("2025年2月14日", "Updated 5:27 am"), a widget's label ("スポンサーリンク",
  "Advertisement") or the copyright notice dropped: they change without the text changing.

How the main content is found (each stage is a rule we can test on fixture pages):

1. drop by tag: scripts, styles, forms, media, ``nav``, figure captions; site ``header``/``footer``;
   ``aside`` outside an article; hidden elements;
2. choose the root: ``<main>``/``[role=main]``, else an outermost ``<article>``, else a known content
   container (``.entry-content``, ``#content``, ...), else ``<body>``; among candidates of a kind,
   the one holding most of the page's prose with links discounted (an article beats the "more
   stories" grid beside it; an article holding other articles is scored without them); a
   candidate must hold a fair share of the page's prose, so an empty ``<main>`` around a hero
   image does not win;
3. inside the root, drop comment threads, then by class/id/role words (nav, breadcrumb, sidebar,
   share, ad, teaser, author-box, ...); words that also name content on clinic pages (menu, side,
   comment, recommend, ...) count only for blocks shaped like boilerplate; the bands of a layout
   table beside the article's cell go too; the block holding most of the remaining prose is never
   dropped (a site footer only if it holds the title or content container), but what is marked
   inside it is still looked at (share bars, hover cards in a "content-with-sidebar" wrapper);
4. drop blocks that open with a boilerplate heading (「関連記事」, 「この記事を書いた人」, "Related",
   "Leave a reply", ...) with the run of headline links after it, teaser lists (items opening
   with a headline link), card grids (``<div>``/``<article>`` cards with a linked headline and a
   short excerpt), and blocks that are mostly links, unless they sit inside prose (a list of
   linked conditions in the article is content) or carry references;
5. around the title: short labels above it (a section kicker, "Back to ...") and a standfirst
   written as an English sentence right under it are dropped.

Per-source ``Selectors`` override the heuristics (``drop`` first, ``select`` instead of stages 2-4);
``Extracted.doubt`` says when the result is empty or a small part of the page's visible text.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree

from watcher.extract.decode import decode_body
from watcher.extract.language import detect_language
from watcher.extract.normalize import PIECE_CHARS, collapse_whitespace, count_chars, normalize_text
from watcher.extract.selectors import Selectors

# Bump on any change that alters extracted text: versions made by an older extractor are
# re-derived from the stored snapshots instead of being diffed against newer ones.
EXTRACTOR_VERSION = "lxml-main/2"


def extractor_version(selectors: Selectors | None = None) -> str:
    """The version to store on a text version made with ``selectors`` (at most 24 characters):
    changing a source's selectors changes it, so its texts are re-derived like after an upgrade."""
    key = selectors.key if selectors else ""
    return f"{EXTRACTOR_VERSION}+{key}" if key else EXTRACTOR_VERSION


@dataclass(frozen=True)
class Extracted:
    title: str | None
    text: str
    language: str | None  # 'ja', 'en', 'mixed', or None when there is no text
    # Why the text may have missed the article (None: no doubt): it is empty although the page
    # shows text, it is a small part of the page's visible text, or ``select`` matched nothing.
    # A watchdog reads it as "this page needs a selector".
    doubt: str | None = None


EMPTY = Extracted(title=None, text="", language=None)

Element = Any  # lxml ships no type information; the package is typed at its boundary instead


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- stage 1: tags -------------------------------------------------------------------------------

_ALWAYS_DROPPED = _word_set(
    """script style noscript template svg math iframe frame frameset object embed applet canvas
    audio video source track param picture img map area button input select textarea option
    optgroup datalist label output progress meter nav dialog link meta base rt rp title head
    noembed noframes figcaption"""
)
_NEVER_TEXT = _ALWAYS_DROPPED - _word_set("nav dialog figcaption")  # what ``select`` keeps of these shows
_HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Words in a header's class/id that mark it as the header of the article rather than of the site.
_CONTENT_WORDS = _word_set("entry post article page content contents title single blog main section card heading")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_HIDDEN_CLASSES = _word_set(
    """hidden d-none sr-only screen-reader-text visually-hidden visuallyhidden invisible hide is-hidden
    u-hidden display-none"""
)

# --- stage 3: class / id / role words ------------------------------------------------------------

# Class and id values are split on -, _ and camelCase into words. Three kinds of words:
# * strong: only ever name boilerplate (nav, breadcrumb, share, cookie, ...);
# * weak: also name content on clinic pages — "menu" (施術メニュー), "side" (side-effects),
#   "comment" (ドクターコメント), "recommend" (こんな方におすすめ), "social" (social-anxiety) —
#   so they count only for a block shaped like boilerplate: mostly links, or almost no prose;
# * site: header/footer words are strong unless the root is <main>/<article> (which leave the
#   site's header and footer out) and weak inside those, where "box-header" wraps a section title;
#   with a content word ("content-header", "entry-header") they never count.
# Not here on purpose: "widget" (page builders such as Elementor wrap all content in widgets),
# "category"/"tag" (WordPress adds category-<slug> to the post itself), "sticky" (sticky posts).
_STRONG_WORDS = _word_set(
    """nav navi navigation navbar gnav gnavi globalnav megamenu drawer hamburger breadcrumb breadcrumbs
    pankuzu topicpath crumbs bread sidebar sidebars sidenav sidemenu share sharing sharer sns cookie
    cookies consent gdpr ad ads adsense adsbygoogle adslot adunit advert adverts advertisement
    advertising sponsor sponsored promo promoted outbrain taboola teaser teasers ticker pagination
    pager toc skip copyright subscribe subscription newsletter postmeta byline searchform signup
    login popup modal caption captions credit credits rollover rollovers hovercard tooltip tooltips popover"""
)
_WEAK_WORDS = _word_set(
    """menu menus side social related recent popular ranking recommend latest comment comments respond
    banner banners cta meta metas date author search floating button buttons btn"""
)
# Weak words that also make a block chrome when it is one line long: a date, a byline, a
# "posted in" line (a weak-word block is otherwise chrome only below a sentence's worth of prose).
_META_WORDS = _word_set("meta metas date timestamp published updated posted dateline postdate pubdate author byline")
_META_PROSE = 80
# Pairs: "social" or "author" alone also name content ("social anxiety", a quoted author), but
# with one of these words they name a widget: "social-links", "author-box" (Cocoon, SWELL's
# "p-authorBox"), "about-author".
_WIDGET_PAIRS = (
    (_word_set("social"), _word_set("links link icons icon buttons button share media widget follow list bar")),
    (
        _word_set("author writer profile contributor contributors"),
        _word_set("box bio profile info card area about wrap wrapper widget details post"),
    ),
    (_word_set("most"), _word_set("popular read viewed shared commented emailed")),
    (_word_set("follow"), _word_set("us box buttons links")),
    (_word_set("next prev previous"), _word_set("post posts article articles story entry link links")),
    (_word_set("next"), _word_set("prev previous")),
)
_SITE_WORDS = _word_set("header head masthead footer foot")
# Whole values naming the band above or below a bare <div id=...> layout.
_SITE_VALUES = _word_set("top bottom topbar bottombar")
_STRONG_VALUES = _word_set(
    """secondary widget widgets widget-area widgetarea widgettitle widget-title tagcloud tag-cloud
    wp-block-tag-cloud cat-links tags-links tag-links post-tags post-categories entry-tags
    entry-categories categories tags archives archive-list category-list entry-footer article-footer
    post-footer related-posts related-articles related-stories relatedposts jp-relatedposts
    yarpp-related crp_related more-stories most-read mostread most-popular trending recommended
    table-of-contents tableofcontents"""
)
# Comment threads and forms (WordPress, Disqus and most themes): dropped whatever their size.
_COMMENT_VALUES = _word_set(
    """comments comments-area comment-list commentlist comment-respond respond comments-title
    comment-form commentform comments-section comment-section disqus_thread wpdiscuz"""
)
_COMMENT_PARTS = _word_set("area list section wrapper wrap container thread block box")
_BOILERPLATE_SHAPE_PROSE = 16  # a weak-word block with less prose than a sentence: a date, a byline
_BOILERPLATE_SHAPE_LINKS = 0.4  # ... and so is one whose text is this much link text
_STATE_PREFIXES = ("has-", "no-", "is-", "with-", "without-")
_BOILERPLATE_ROLES = _word_set(
    "navigation banner contentinfo complementary search menu menubar dialog alertdialog toolbar"
)
_WORD_SPLIT = re.compile(r"[-_\s:.]+|(?<=[a-z0-9])(?=[A-Z])")

# --- stage 4: link lists -------------------------------------------------------------------------

# Headings (and first lines) of blocks that are never the article: lists of other pages, author
# boxes, comment sections, share prompts. Compared on lower-case letters and digits only, counts
# removed ("12 Comments", "コメント(3)").
_BOILERPLATE_HEADINGS = _word_set(
    """最近の投稿 最新の投稿 最新記事 新着記事 新着情報一覧 人気記事 人気の記事 人気投稿 よく読まれている記事
    関連記事 関連する記事 関連投稿 おすすめ記事 あわせて読みたい カテゴリー カテゴリ カテゴリー一覧 アーカイブ
    月別アーカイブ タグ タグクラウド 最近のコメント シェアする この記事をシェアする 記事一覧 ブログ記事一覧
    人気記事ランキング 関連コンテンツ こちらの記事もおすすめ おすすめの記事 この記事を書いた人 この記事の著者
    この記事の執筆者 この記事の監修者 著者情報 著者について 執筆者 執筆者情報 監修者 監修者情報 プロフィール
    目次 この記事の目次 コメント コメントを残す コメントする コメントを書く コメント一覧 件のコメント
    スポンサーリンク フォローする
    share follow recentposts latestposts popularposts relatedposts relatedarticles categories
    archives tags recentcomments youmayalsolike sharethis sharethispost followus youmightalsolike
    youmaylike seealso related relatedstories relatedcontent relatedcoverage relatedtags relatedtopics
    morestories morenews mostread mostpopular mostviewed trending trendingnow topstories latestnews
    latest latestposts lateststories recommended recommendedforyou recommendedarticles
    recommendedstories dontmiss readmore readnext alsoread editorspicks aroundtheweb fromtheweb
    promotedstories sponsoredstories comments comment postacomment leaveacomment leaveareply
    jointheconversation abouttheauthor shareonfacebook sharethisarticle sharethisstory subscribe
    newsletter tableofcontents contents inthisarticle explorefurther popularcategories advertisement
    ourlateststories trendingnews trendingstories likethis telluswhatyouthink postcomment youareat"""
)
# ... and the beginnings of such headings ("More in White House", "Most read in world news").
_BOILERPLATE_HEADING_STARTS = (
    "morefrom",
    "morein",
    "moreon",
    "morenewsfrom",
    "morestoriesfrom",
    "mostreadin",
    "popularin",
    "latestin",
    "alsoon",
    "followuson",
    "subscribeto",
    "signupfor",
)
_COUNT = re.compile(r"\d+")
# What is not alphanumeric: ``[\W_]`` is exactly ``not str.isalnum()`` (re's word characters are the
# alphanumerics and "_"), so one substitution gives the key a per-character loop gave.
_NOT_ALNUM = re.compile(r"[\W_]+")
_HEADING_PREFIX = 64  # characters of a block's first text that hold a too-long key, mostly
_DENSITY_TAGS = _word_set("div section ul ol dl table p")
_CONTAINER_TAGS = _word_set("div section article ul ol dl table form main header footer nav aside figure")
_BLOCK_SECTIONS = _DENSITY_TAGS | _word_set("aside footer header figure")
_LINK_DENSE = 0.6
_TEASER_LINKS = 0.3
_TEASER_ITEMS = 3
_TEASER_SHARE = 0.8
_HEADLINE_CHARS = 20  # what follows a "Related" heading: headline links over short teaser text
_LABEL_CHARS = 40  # a block that is only a "Related" label, not an author box opening with one
_CARD_GRID_TAGS = _word_set("div section ul ol")
_CARD_PROSE = 300  # a teaser card's excerpt is a sentence or two, not an article section
_PROSE_CHARS = 40

_REFERENCE_HOSTS = ("doi.org", "pubmed.ncbi.nlm.nih.gov", "ncbi.nlm.nih.gov", "pmc.ncbi.nlm.nih.gov", "europepmc.org")
_DOI_OR_PMID = re.compile(r"\b10\.\d{4,9}/\S+|\bPMID\s*:?\s*\d{5,9}|\bPMC\d{5,9}", re.IGNORECASE)

# --- stage 2: root candidates --------------------------------------------------------------------

_CONTAINER_VALUES = _word_set(
    """content contents main main-content maincontent main-contents main_contents primary article
    post entry entry-content post-content post_content article-body article-content entry-body
    post-body single-content the-content blog-content blog-body page-content l-maincontent
    cps-post-main"""
)
_ROOT_SHARE = 0.2  # a candidate root must hold this share of the page's non-link text
_KICKER_LINES = 3  # short lines above the title: a section label, "Back to ...", a print-only URL
_KICKER_CHARS = 120
_STANDFIRST = re.compile(r"#{2,6} ")
_STANDFIRST_WORDS = 6  # more words than this, "##" included: "## Twenty teams have punched tickets ..."

# --- rendering -----------------------------------------------------------------------------------

_BLOCK_TAGS = _word_set(
    """address article aside blockquote body center dd details dialog dir div dl dt fieldset
    figcaption figure footer form header hgroup hr html legend li main menu nav ol p pre section
    summary table tbody thead tfoot tr td th caption ul"""
) | frozenset(_HEADING_LEVELS)
_HEADING_BREAKERS = _word_set("p ul ol dl li table blockquote pre h1 h2 h3 h4 h5 h6")
_LAYOUT_CELL_CONTENT = _word_set("table ul ol dl h1 h2 h3 h4 h5 h6 blockquote")
_LAYOUT_CELL_CHARS = 200
_PROSE_BLOCKS = ("p", "ul", "ol", "dl", "blockquote", *_HEADING_LEVELS)

# --- date lines ----------------------------------------------------------------------------------

_DATE_LINE_CHARS = 80
_COPYRIGHT_STARTS = ("©", "(c) ", "(C) ", "Copyright", "COPYRIGHT")
_CHROME_LINES = _word_set(
    """advertisement advert ad ads sponsored sponsoredlinks 広告 スポンサーリンク pr caption close
    enlargeimage enlarge loading likeloading video comments comment share tweet print email
    imageof photoof"""
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"
    r"|\d{4}年\d{1,2}月\d{1,2}日|\d{1,2}月\d{1,2}日"
    rf"|{_MONTH}\s*\d{{1,2}}(?:st|nd|rd|th)?,?\s*\d{{4}}|\d{{1,2}}\s*{_MONTH},?\s*\d{{4}}"
)
_TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*(?:[ap]\.m\.|[a-z]{1,4}\b))*")  # 4:29 p.m., 11:28 am EST
_DATE_LABEL = re.compile(
    r"\b(?:last updated|last modified|updated|published|posted|modified|first published|date|on|at|by)\b"
    r"|最終更新日|更新日|投稿日|公開日|掲載日|作成日|更新|公開|投稿"
    r"|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b\.?|[((][月火水木金土日][))]"
)
_DATE_FILLER = re.compile(r"[\s,.|/:・\-–—]+")

# --- doubt --------------------------------------------------------------------------------------

_NO_SELECTORS = Selectors()
_DOUBT_MIN_VISIBLE = 200  # a page showing less text than a paragraph is not doubtful when small
_DOUBT_SHARE = 0.1
_DOUBT_EMPTY = "no main text found in a page that shows text"
_DOUBT_SMALL = "main text is under a tenth of the page's visible text"
_DOUBT_NO_MATCH = "the select selectors match nothing"

# XPath expressions compiled once (``element.xpath(text)`` compiles its text on every call).
_IN_ROLE_MAIN = etree.XPath("ancestor::*[@role='main']")
_MAIN_CANDIDATES = etree.XPath(".//main | .//*[@role='main']")
_OUTER_ARTICLES = etree.XPath(".//article[not(ancestor::article)]")
_NESTED_ARTICLES = etree.XPath(".//article[not(ancestor::article[2])]")
_OG_TITLES = etree.XPath("//meta[@property='og:title']/@content")

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
_UNPARSABLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NOT_SPACE = re.compile(r"\S")


def extract_main_text(html: str, *, url: str | None = None, selectors: Selectors | None = None) -> Extracted:
    """The title and main text of a page; never raises on malformed input (returns empty text).

    ``selectors`` (``Selectors.parse(select=..., drop=...)``) override the heuristics for one
    source: ``drop`` removes what it matches first; ``select`` makes what it matches the main text,
    with only scripts, styles, forms' controls and hidden elements taken out of it.
    """
    if isinstance(html, bytes | bytearray):  # defensive: callers should decode first
        html = decode_body(bytes(html)).text
    try:
        root = _parse(html)
        if root is None:
            return EMPTY
        return _extract(root, url=url, selectors=selectors or _NO_SELECTORS)
    except (ValueError, TypeError, etree.LxmlError, RecursionError):
        return EMPTY


def _parse(html: str) -> Element | None:
    html = _UNPARSABLE.sub("", _XML_DECLARATION.sub("", html, count=1))
    if not _NOT_SPACE.search(html):
        return None
    # huge_tree lifts libxml2's nesting limit from 256 to 2048: unclosed <div>s in a broken
    # template would otherwise cut the page off after the 256th one. The plain etree parser
    # rather than lxml.html's, whose element-class lookup costs a third of the run time on
    # large pages for helpers we do not use.
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, huge_tree=True, no_network=True, collect_ids=False)
    return etree.fromstring(html, parser=parser)


def _extract(document: Element, *, url: str | None, selectors: Selectors) -> Extracted:
    head_title = _head_title(document)
    body = document.find("body")
    if body is None:
        body = document
    _drop_all(selectors.dropped(document))
    if selectors.select:
        return _extract_selected(body, url=url, selectors=selectors, head_title=head_title)
    _drop_all(_tag_boilerplate(body))

    stats = _collect_stats(body)
    visible = _prose(stats, body)
    root = _choose_root(body, stats)
    core = _Core(root, stats)
    boilerplate = _class_boilerplate(root, stats, core)
    layout_chrome = _layout_table_chrome(root, stats)
    _forget(stats, layout_chrome)  # before dropping: the ancestors are found through the tree
    _drop_all(boilerplate + layout_chrome)
    _drop_all(_link_lists(root, stats, core))

    lines = _Renderer(url=url).render(root)
    title: str | None = None
    h1 = next(root.iter("h1"), None)
    if h1 is not None:
        title = _inline_text(h1, url=url) or None
    else:
        outside = _title_outside(body, root)
        if outside:
            title = outside
            lines.insert(0, "# " + outside)
    return _result(_around_title(lines), title=title or head_title, visible=visible)


def _around_title(lines: list[str]) -> list[str]:
    """The lines without the labels above the title and the standfirst under it.

    Labels: at most ``_KICKER_LINES`` short lines before the title heading (a section kicker
    such as "Opinion", "Back to ...", a print-only URL) are the page's, not the article's. The
    standfirst: a heading written as a sentence (``_STANDFIRST_WORDS`` words or more) right under
    the title is the editor's summary of the article, not one of its sections; section headings
    ("## 培養上清液とは", "## Side effects") are short and stay.
    """
    start = next((index for index, line in enumerate(lines[: _KICKER_LINES + 1]) if line.startswith("# ")), None)
    if start is None:
        return lines
    if sum(_chars(line) for line in lines[:start]) > _KICKER_CHARS:
        start = 0
    kept = lines[start:]
    if len(kept) > 1 and _STANDFIRST.match(kept[1]) and len(kept[1].split()) > _STANDFIRST_WORDS:
        del kept[1]
    return kept


def _extract_selected(body: Element, *, url: str | None, selectors: Selectors, head_title: str | None) -> Extracted:
    _drop_all(_tag_boilerplate(body, heuristics=False))
    visible = _prose(_collect_stats(body), body)
    chosen = selectors.selected(body)
    if not chosen:
        return Extracted(title=head_title, text="", language=None, doubt=_DOUBT_NO_MATCH)
    lines: list[str] = []
    for element in chosen:
        element.tail = None  # the text after the element is not part of it
        wrapper = etree.Element("div")
        wrapper.append(element)
        lines.extend(_Renderer(url=url).render(wrapper))
    h1 = next((h1 for element in chosen for h1 in element.iter("h1")), None)
    title = (_inline_text(h1, url=url) or None) if h1 is not None else None
    return _result(lines, title=title or head_title, visible=visible)


def _result(lines: list[str], *, title: str | None, visible: int) -> Extracted:
    text = _finish(lines)
    if title is not None:
        title = normalize_text(title).replace("\n", " ") or None
    return Extracted(title=title, text=text, language=detect_language(text), doubt=_doubt(text, visible=visible))


def _doubt(text: str, *, visible: int) -> str | None:
    """Empty text from a page that shows text, or a small part of it: maybe the wrong root."""
    kept = _chars(text)
    if kept == 0:
        return _DOUBT_EMPTY if visible >= _DOUBT_MIN_VISIBLE else None
    if visible >= _DOUBT_MIN_VISIBLE and kept < visible * _DOUBT_SHARE:
        return _DOUBT_SMALL
    return None


def _finish(lines: list[str]) -> str:
    out: list[str] = []
    for line in normalize_text("\n".join(lines)).split("\n"):
        if line and (not out or out[-1] != line) and not _is_date_line(line) and not _is_chrome_line(line):
            out.append(line)
    return "\n".join(out)


def _is_chrome_line(line: str) -> bool:
    """A line that is a widget's label left behind ("Advertisement", 「スポンサーリンク」,
    "Caption", "Loading...") or the site's copyright notice, whose year changes every January."""
    if len(line) > _DATE_LINE_CHARS:
        return False
    if line.startswith(_COPYRIGHT_STARTS) or line.lower().startswith("copyright"):
        return True
    key = _COUNT.sub("", _NOT_ALNUM.sub("", line.lower()))
    return key in _CHROME_LINES


def _is_date_line(line: str) -> bool:
    """A line that is only a date or time, with at most a label ("Updated", 「投稿日」): the post
    date and the last-modified stamp change without the text changing, and claim nothing."""
    if len(line) > _DATE_LINE_CHARS or line.startswith(("#", "- ")):
        return False
    lowered = line.lower()
    dated = _DATE.search(lowered) is not None
    labelled = _DATE_LABEL.search(lowered) is not None
    if not dated and not (labelled and _TIME.search(lowered)):
        return False
    rest = _TIME.sub(" ", _DATE.sub(" ", _DATE_LABEL.sub(" ", lowered)))
    return not _DATE_FILLER.sub("", rest)


def _drop_all(elements: list[Element]) -> None:
    for element in elements:
        parent = element.getparent()
        if parent is None:
            continue
        tail = element.tail
        if tail:  # the text after a dropped element belongs to its parent: keep it
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + tail
            else:
                parent.text = (parent.text or "") + tail
        parent.remove(element)


# --- stage 1 -------------------------------------------------------------------------------------


def _tag_boilerplate(body: Element, *, heuristics: bool = True) -> list[Element]:
    """Elements to drop by tag; without ``heuristics`` only what never shows as text (scripts,
    media, controls, hidden elements), not the site's header, footer, asides and forms."""
    doomed: list[Element] = []
    walker = etree.iterwalk(body, events=("start",))
    for _event, element in walker:
        tag = element.tag
        if element is body:
            continue
        dropped_tags = _ALWAYS_DROPPED if heuristics else _NEVER_TEXT
        if (
            not isinstance(tag, str)
            or tag in dropped_tags
            or _is_hidden(element)
            or (
                heuristics
                and (
                    (tag == "form" and not _form_holds_page(element, body))
                    or (tag == "header" and not _is_article_header(element))
                    or (tag == "footer" and not _is_kept_footer(element))
                    or (tag == "aside" and not _has_ancestor(element, ("article",)))
                )
            )
        ):
            doomed.append(element)
            walker.skip_subtree()
    return doomed


def _is_hidden(element: Element) -> bool:
    if element.get("hidden") is not None or element.get("aria-hidden", "").strip().lower() == "true":
        return True
    if _HIDDEN_STYLE.search(element.get("style", "")):
        return True
    return any(value.lower() in _HIDDEN_CLASSES for value in element.get("class", "").split())


def _form_holds_page(form: Element, body: Element) -> bool:
    # ASP.NET and some CMSs wrap the whole page in one <form>: that form is the page, not a widget.
    if any(form.find(path) is not None for path in (".//h1", ".//main", ".//article")):
        return True
    return _chars(_text_of(form)) * 2 > _chars(_text_of(body))


def _is_article_header(header: Element) -> bool:
    if _has_ancestor(header, ("article", "main")) or _IN_ROLE_MAIN(header):
        return True
    words = {word for value in _attribute_values(header) for word in _words(value)}
    return bool(words & _CONTENT_WORDS)


def _is_kept_footer(footer: Element) -> bool:
    return _has_ancestor(footer, ("blockquote", "figure")) or _has_references(footer)


def _has_ancestor(element: Element, tags: tuple[str, ...]) -> bool:
    return any(ancestor.tag in tags for ancestor in element.iterancestors())


# --- per-element counts --------------------------------------------------------------------------


class _Stats:
    __slots__ = ("chars", "link_chars", "links", "references")

    def __init__(self) -> None:
        self.chars = 0  # non-space characters in the subtree
        self.link_chars = 0  # of which inside <a href>
        self.links = 0
        self.references = False  # a DOI/PubMed/PMC link or identifier somewhere inside


_NO_STATS = _Stats()
_StatsMap = dict[Element, _Stats]


def _collect_stats(root: Element) -> _StatsMap:
    """Per-element counts in one bottom-up pass, so that no stage re-reads a subtree (a 5 MB
    page with thousands of nested blocks would otherwise cost quadratic time)."""
    stats: _StatsMap = {}
    mentions = _mentions_reference
    for _event, element in etree.iterwalk(root, events=("end",)):
        own = _Stats()
        text = element.text
        if text:
            own.chars = _chars(text)
            own.references = mentions(text)
        for child in element:
            counts = stats.get(child, _NO_STATS)
            tail = child.tail
            own.chars += counts.chars
            own.link_chars += counts.link_chars
            own.links += counts.links
            own.references = own.references or counts.references
            if tail:
                own.chars += _chars(tail)
                own.references = own.references or mentions(tail)
        if element.tag == "a":
            href = element.get("href")
            if href:
                own.link_chars = own.chars
                own.links += 1
                own.references = own.references or _reference_identifier(href) is not None
        stats[element] = own
    return stats


def _mentions_reference(text: str) -> bool:
    """Whether ``text`` holds a DOI, PMID or PMC id: ``_DOI_OR_PMID`` needs "10." or "p" and "m"
    (in either case; nothing else matches them under IGNORECASE), checked first without the regex."""
    if "10." not in text and "pm" not in text.lower():
        return False
    return _DOI_OR_PMID.search(text) is not None


def _forget(stats: _StatsMap, dropped: list[Element]) -> None:
    """Take dropped subtrees out of their ancestors' counts (cheaper than counting again)."""
    for element in dropped:
        counts = stats.get(element)
        if counts is None:
            continue
        for ancestor in element.iterancestors():
            above = stats.get(ancestor)
            if above is None:
                break
            above.chars -= counts.chars
            above.link_chars -= counts.link_chars
            above.links -= counts.links


# --- stage 2 -------------------------------------------------------------------------------------


def _choose_root(body: Element, stats: _StatsMap) -> Element:
    page_prose = _prose(stats, body)
    if page_prose == 0:
        return body
    minimum = page_prose * _ROOT_SHARE

    def best(candidates: list[Element]) -> Element | None:
        # The candidate holding most of the page's prose, links discounted: a "more stories" grid
        # has as many characters as the article beside it, but half of them are headline links.
        scored = [(score, el) for el in candidates if (score := _root_score(stats, el)) >= minimum]
        return max(scored, key=lambda pair: pair[0])[1] if scored else None

    semantic = best(_MAIN_CANDIDATES(body))
    if semantic is not None:
        return semantic
    # Only outermost articles: an <article> holding other <article>s is a list (related posts, a
    # comment thread) and is scored on its own text, without theirs.
    article = best(_OUTER_ARTICLES(body))
    if article is not None:
        return article
    containers = [
        el
        for el in body.iter()
        if el is not body
        and isinstance(el.tag, str)
        and _is_content_container(el)
        and _root_score(stats, el) >= minimum
    ]
    if not containers:
        return body
    # The most specific container that still holds the article title; without an <h1> in any of
    # them, the most specific one.
    with_title = [el for el in containers if el.find(".//h1") is not None]
    pool = with_title or containers
    return max(pool, key=lambda el: sum(1 for _ in el.iterancestors()))


def _root_score(stats: _StatsMap, candidate: Element) -> float:
    own = stats.get(candidate)
    if own is None or own.chars == 0:
        return 0.0
    prose = own.chars - own.link_chars
    if candidate.tag == "article":
        prose -= sum(_prose(stats, nested) for nested in _NESTED_ARTICLES(candidate))
    return max(0, prose) * (1 - own.link_chars / own.chars)


def _prose(stats: _StatsMap, element: Element) -> int:
    """Characters outside links: what a menu or a sidebar lacks and an article has."""
    own = stats.get(element)
    return own.chars - own.link_chars if own else 0


# --- stage 3 -------------------------------------------------------------------------------------


def _class_boilerplate(root: Element, stats: _StatsMap, core: _Core) -> list[Element]:
    """Blocks marked as boilerplate by role, class or id, taken out of ``stats`` as they go."""
    # A <main> or <article> leaves the site's header and footer out; a <div id="content"> or the
    # body may hold them (a broken page can nest its footer inside the content div).
    site_level = root.tag not in ("main", "article") and root.get("role") != "main"
    # Nested marks are all collected: a wrapper spared below as the core ("content-with-sidebar")
    # still has its share buttons and hover cards looked at.
    # Parts of a link go with their link (their own counts take link text for prose).
    found: list[tuple[Element, int]] = []
    walker = etree.iterwalk(root, events=("start",))
    for _event, element in walker:
        if element.tag == "a":
            walker.skip_subtree()
        if element is root or not isinstance(element.tag, str):
            continue
        kind = _boilerplate_kind(element, stats=stats, site_level=site_level)
        if kind is not None:
            found.append((element, kind))
    # Layout wrappers sometimes carry modifier classes ("l-wrap side-right", "content-sidebar-wrap"):
    # the block holding most of the prose that is left is the page, whatever its class says.
    # Comment threads go first, whatever their size, as long as some text stays: a short post
    # under a long thread is still the post. Then strong words, then weak ones, each judged on
    # what the previous kinds left.
    doomed: set[Element] = set()
    for kind in (_COMMENTS, _SITE, _STRONG, _WEAK):
        marked = {element for element, found_kind in found if found_kind == kind}
        nearest = {element: _nearest(element, marked, doomed) for element in marked}
        # The outermost of the kind first; inside a block spared as the core, the next ones.
        batch = [element for element, above in nearest.items() if above is None]
        while batch:
            if kind == _COMMENTS:
                if core.remaining - sum(_prose(stats, element) for element in batch) < _PROSE_CHARS:
                    break
                kept = batch
            else:
                kept = [element for element in batch if not core.holds(element, anchored=kind == _SITE)]
            core.remove(kept)
            _forget(stats, kept)
            doomed.update(kept)
            spared = set(batch) - set(kept)
            batch = [element for element, above in nearest.items() if above in spared]
    return [element for element in root.iter() if element in doomed]


def _nearest(element: Element, marked: set[Element], doomed: set[Element]) -> Element | None:
    """The closest ancestor in ``marked``; ``element`` itself when it lies inside a dropped block
    (so that it is never judged), None when it is outermost."""
    for ancestor in element.iterancestors():
        if ancestor in doomed:
            return element
        if ancestor in marked:
            return ancestor
    return None


def _layout_table_chrome(root: Element, stats: _StatsMap) -> list[Element]:
    """Rows and cells beside the article in a layout table (old sites built with <table>): the
    header row, the menu column and the footer row around the cell that holds the article."""
    doomed: list[Element] = []
    node = root
    while True:
        prose = _prose(stats, node)
        heaviest = max(
            (child for child in node if isinstance(child.tag, str)),
            default=None,
            key=lambda child: _prose(stats, child),
        )
        if heaviest is None or prose == 0 or _prose(stats, heaviest) * 2 < prose:
            return doomed
        if heaviest.tag == "tr" and _is_data_row(heaviest):
            return doomed  # a data table: its rows are content
        if heaviest.tag in ("tr", "td", "th"):
            # A band of the layout holds no paragraph, list or heading of its own: a logo and a phone
            # number, a row of menu links, a column of link tables, an address in <font>.
            doomed.extend(
                sibling
                for sibling in node
                if sibling is not heaviest and sibling.tag == heaviest.tag and not _holds_blocks(sibling, stats)
            )
        node = heaviest


def _holds_blocks(element: Element, stats: _StatsMap) -> bool:
    return any(_prose(stats, block) > 0 for block in element.iter(*_PROSE_BLOCKS))


class _Core:
    """Where the article is: the block holding most of the root's remaining prose is never
    dropped. A site header or footer must also hold the root's ``<h1>`` or content container
    (``.entry-content``) if it has one: a long legal notice in the footer is not the article."""

    def __init__(self, root: Element, stats: _StatsMap) -> None:
        self.stats = stats
        self.remaining = _prose(stats, root)
        self.anchored: set[Element] = set()
        for element in root.iter():
            if element is not root and (element.tag == "h1" or _is_content_container(element)):
                self.anchored.add(element)
                self.anchored.update(element.iterancestors())

    def holds(self, element: Element, *, anchored: bool = False) -> bool:
        if self.remaining <= 0 or _prose(self.stats, element) * 2 < self.remaining:
            return False
        return not anchored or not self.anchored or element in self.anchored

    def remove(self, elements: list[Element]) -> None:
        self.remaining -= sum(_prose(self.stats, element) for element in elements)


def _is_content_container(element: Element) -> bool:
    return any(value.lower() in _CONTAINER_VALUES for value in _attribute_values(element))


def _attribute_values(element: Element) -> list[str]:
    values: list[str] = str(element.get("class", "")).split()
    element_id = str(element.get("id", "")).strip()
    if element_id:
        values.append(element_id)
    return values


def _words(value: str) -> list[str]:
    return [word.lower() for word in _WORD_SPLIT.split(value) if word]


def _is_boilerplate_by_attributes(element: Element, *, stats: _StatsMap | None, site_level: bool) -> bool:
    """Whether role, class or id mark the element as boilerplate; weak words need ``stats``."""
    return _boilerplate_kind(element, stats=stats, site_level=site_level) is not None


_COMMENTS, _SITE, _STRONG, _WEAK = 0, 1, 2, 3


def _boilerplate_kind(element: Element, *, stats: _StatsMap | None, site_level: bool) -> int | None:
    """``_COMMENTS``, ``_SITE`` (a site header or footer), ``_STRONG`` or ``_WEAK`` when role,
    class or id mark the element as boilerplate (weak words need ``stats``), else None."""
    role = str(element.get("role", "")).strip().lower()
    if role in _BOILERPLATE_ROLES:
        return _STRONG
    weak = site = meta = False
    for value in _attribute_values(element):
        lowered = value.lower()
        if lowered in _COMMENT_VALUES:
            return _COMMENTS
        if lowered in _STRONG_VALUES or lowered.startswith("widget_"):
            return _STRONG
        if lowered in _SITE_VALUES and site_level:
            return _SITE
        if lowered.startswith(_STATE_PREFIXES):
            continue
        words = set(_words(value))
        if "comments" in words and words & _COMMENT_PARTS:
            return _COMMENTS
        if words & _STRONG_WORDS or any(words & first and words & second for first, second in _WIDGET_PAIRS):
            return _STRONG
        meta = meta or bool(words & _META_WORDS)
        # "price-table__header" (BEM) is the header of a component, not of the site.
        if words & _SITE_WORDS and not words & _CONTENT_WORDS and "__" not in value:
            if site_level:
                return _SITE
            site = True
        weak = weak or bool(words & _WEAK_WORDS)
    if stats is None or not (weak or site or meta):
        return None
    counts = stats.get(element, _NO_STATS)
    link_heavy = counts.links > 0 and counts.link_chars >= _BOILERPLATE_SHAPE_LINKS * counts.chars
    if site:
        # Inside an article, a "box-header" wraps a section title: only a link bar is chrome.
        return _WEAK if link_heavy and next(element.iter(*_HEADING_LEVELS), None) is None else None
    prose = counts.chars - counts.link_chars
    if link_heavy or (weak and prose < _BOILERPLATE_SHAPE_PROSE) or (meta and prose < _META_PROSE):
        return _WEAK
    return None


# --- stage 4 -------------------------------------------------------------------------------------


def _link_lists(root: Element, stats: _StatsMap, core: _Core) -> list[Element]:
    prose_around: dict[Element, bool] = {}
    doomed: list[Element] = []
    walker = etree.iterwalk(root, events=("start",))
    for _event, element in walker:
        if element is root:
            continue
        tag = element.tag
        if tag in _HEADING_LEVELS and _is_boilerplate_heading(_inline_text(element, url=None)):
            doomed.append(element)
            doomed.extend(_teaser_run(stats, element))
            continue
        if tag not in _BLOCK_SECTIONS or stats[element].references or core.holds(element):
            continue
        # A block that opens with "関連記事", "この記事を書いた人" or "Leave a reply" is that block,
        # links or not (an author box is prose).
        if _is_boilerplate_heading(_first_text(element)):
            doomed.append(element)
            if stats[element].chars <= _LABEL_CHARS:  # a "You may also like" line above its links
                doomed.extend(_teaser_run(stats, element))
            walker.skip_subtree()
        elif (
            _is_teaser_list(element)
            or _is_card_grid(element, stats)
            or (
                tag in _DENSITY_TAGS
                and _is_link_dense(stats, element, threshold=_LINK_DENSE)
                and not _inside_prose(stats, element, prose_around)
            )
        ):
            doomed.append(element)
            walker.skip_subtree()
    return doomed


def _teaser_run(stats: _StatsMap, label: Element) -> list[Element]:
    """The blocks a "Related" label introduces: the following siblings, as long as each is
    mostly link text (one headline link per paragraph, or a list of them)."""
    run: list[Element] = []
    following = label.getnext()
    while following is not None and _is_link_dense(stats, following, threshold=_TEASER_LINKS, minimum=1):
        run.append(following)
        following = following.getnext()
    return run


def _is_card_grid(element: Element, stats: _StatsMap) -> bool:
    """A grid of teaser cards built from <div>s or <article>s (not list items): at least three
    children holding text, nearly all of which carry a headline link (a heading that is a link,
    or a link wrapping a heading) over little prose of their own. Cards linking to other pages
    of the site, with a one-line excerpt: "more stories", "most read", "recent articles"."""
    if element.tag not in _CARD_GRID_TAGS:
        return False
    cards = [child for child in element if isinstance(child.tag, str) and stats.get(child, _NO_STATS).chars]
    if len(cards) < _TEASER_ITEMS:
        return False
    teasers = sum(1 for card in cards if _is_card(card, stats))
    return teasers >= _TEASER_SHARE * len(cards)


def _is_card(card: Element, stats: _StatsMap) -> bool:
    if _prose(stats, card) > _CARD_PROSE:
        return False
    for heading in card.iter(*_HEADING_LEVELS):
        counts = stats.get(heading, _NO_STATS)
        if counts.chars < _HEADLINE_CHARS:
            continue
        if counts.link_chars * 2 >= counts.chars or any(
            ancestor.tag == "a" and ancestor.get("href") for ancestor in heading.iterancestors()
        ):
            return True
    return False


def _is_teaser_list(element: Element) -> bool:
    """A list whose items each open with a headline link (a ticker, "more stories"): not a list of
    linked conditions, whose links are a word or two."""
    if element.tag not in ("ul", "ol"):
        return False
    items = [child for child in element if child.tag == "li"]
    if len(items) < _TEASER_ITEMS:
        return False
    headlines = 0
    for item in items:
        link = next(item.iter("a"), None)
        if link is not None and link.get("href") and _chars(_text_of(link)) >= _HEADLINE_CHARS:
            headlines += not _first_text(item)  # the item opens with the link
    return headlines >= _TEASER_SHARE * len(items)


def _is_link_dense(stats: _StatsMap, element: Element, *, threshold: float, minimum: int = 2) -> bool:
    own = stats.get(element)
    if own is None or own.links < minimum or own.chars == 0:
        return False
    return own.link_chars >= threshold * own.chars


def _inside_prose(stats: _StatsMap, element: Element, memo: dict[Element, bool]) -> bool:
    """Whether the block sits among sentences (a list of linked conditions inside the article)
    rather than among other blocks (a sidebar next to the content column)."""
    if any(child.tag in _HEADING_LEVELS and _chars(_text_of(child)) for child in element):
        return True  # a section with its own heading is a section, however many links it has
    previous = element.getprevious()
    if previous is not None and previous.tag in _HEADING_LEVELS:
        # The list a heading introduces ("対象疾患" + linked conditions). Lists under
        # 「最近の投稿」-like headings were dropped with their heading before we get here.
        return True
    parent = element.getparent()
    if parent is None:
        return False
    if parent not in memo:
        prose = _chars(parent.text)
        for child in parent:
            prose += _chars(child.tail)
            if child.tag not in _CONTAINER_TAGS:
                prose += _prose(stats, child)
        memo[parent] = prose >= _PROSE_CHARS
    return memo[parent]


def _first_text(element: Element) -> str:
    for node in itertools.islice(element.iter(), 50):
        if node.tag == "a":
            return ""  # the block opens with a link, not with a heading
        if node.text and node.text.strip():
            return str(node.text)
    return ""


def _is_boilerplate_heading(text: str) -> bool:
    folded = unicodedata.normalize("NFKC", text).lower()
    # The key of a prefix is a prefix of the key: when the first characters already give more than 40,
    # the rest of a paragraph (the first text of most blocks) is not read.
    if len(folded) > _HEADING_PREFIX and len(_NOT_ALNUM.sub("", folded[:_HEADING_PREFIX])) > 40:
        return False
    key = _NOT_ALNUM.sub("", folded)
    if len(key) > 40:
        return False
    key = _COUNT.sub("", key)
    return key in _BOILERPLATE_HEADINGS or key.startswith(_BOILERPLATE_HEADING_STARTS)


def _has_references(element: Element) -> bool:
    return any(_reference_identifier(link.get("href", "")) is not None for link in element.iter("a"))


def _reference_identifier(href: str) -> str | None:
    """The DOI, PMID or PMC id a link points to, or None for other links."""
    lowered = href.lower()
    if "doi.org" not in lowered and "ncbi." not in lowered and "europepmc." not in lowered:
        return None  # the common case, without parsing the URL
    try:
        parts = urlsplit(href.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host or not any(host == known or host.endswith("." + known) for known in _REFERENCE_HOSTS):
        return None
    path = unquote(parts.path).strip("/")
    if host.endswith("doi.org"):
        return path or None
    tail = path.rsplit("/", 1)[-1]
    return tail or parts.query or None


# --- titles --------------------------------------------------------------------------------------


def _head_title(document: Element) -> str | None:
    for content in _OG_TITLES(document):
        text = collapse_whitespace(str(content))
        if text:
            return text
    title = document.find(".//title")
    if title is not None:
        text = collapse_whitespace(_text_of(title))
        if text:
            return text
    return None


def _title_outside(body: Element, root: Element) -> str | None:
    """The article's <h1> when the chosen root starts below it (title above .entry-content)."""
    if root is body:
        return None
    for h1 in body.iter("h1"):
        if any(_is_boilerplate_by_attributes(el, stats=None, site_level=True) for el in (h1, *h1.iterancestors())):
            continue
        links = list(h1.iter("a"))
        if links and _chars(_text_of(h1)) == sum(_chars(_text_of(a)) for a in links):
            continue  # a logo linking home, not a title
        text = _inline_text(h1, url=None)
        if text:
            return text
    return None


# --- rendering -----------------------------------------------------------------------------------


_ANY_SPACE = re.compile(r"\s+")


def _text_of(element: Element) -> str:
    return "".join(element.itertext())


def _chars(text: str | None) -> int:
    """Non-space characters: whitespace is layout, and Japanese has none between words."""
    if not text:
        return 0
    if len(text) <= PIECE_CHARS:  # the common case, and the fastest there
        return sum(map(len, text.split()))
    # ``\s`` is str.isspace(), what str.split() splits on: the same count, without a string per word
    # (text.split() held about 60 MB on a 5 MB paragraph).
    return len(text) - count_chars(_ANY_SPACE, text)


def _inline_text(element: Element, *, url: str | None) -> str:
    """One line of text for a heading or a table cell; its inner line breaks follow the same
    rule as source newlines (nothing between two Japanese characters, a space otherwise)."""
    return collapse_whitespace("\n".join(_Renderer(url=url).render(element)))


def _is_data_row(row: Element) -> bool:
    """A row of a data table (one line, cells joined by " | ") rather than of a layout table,
    whose cells hold headings, lists or paragraphs of prose and are rendered as blocks."""
    cells = [cell for cell in row if cell.tag in ("td", "th")]
    if not cells:
        return False
    for cell in cells:
        if any(node.tag in _LAYOUT_CELL_CONTENT for node in cell.iterdescendants()):
            return False
        if _chars(_text_of(cell)) > _LAYOUT_CELL_CHARS:
            return False
    return True


class _Renderer:
    """Walks a cleaned tree once (iteratively: pages can nest 2,000 deep) and emits raw lines."""

    def __init__(self, *, url: str | None) -> None:
        self.url = url
        self.lines: list[str] = []
        self.buffer: list[str] = []
        self.prefix = ""  # "- " waiting for the first line of a list item
        self.heading = 0  # level of the heading being collected; blocks inside it stay inline
        self.pre = 0
        self.link_starts: list[int] = []

    def render(self, root: Element) -> list[str]:
        walker = etree.iterwalk(root, events=("start", "end"))
        for event, element in walker:
            tag = element.tag
            if not isinstance(tag, str):
                continue
            if element is root:
                # The root has no block semantics of its own: rendering a heading or a table cell
                # as a root yields its inline text.
                if event == "start":
                    self.text(element.text)
                continue
            if event == "start":
                if self.start(element, tag):
                    walker.skip_subtree()
                else:
                    self.text(element.text)
            else:
                self.end(element, tag)
                self.text(element.tail)
        self.flush()
        return list(self.lines)

    def start(self, element: Element, tag: str) -> bool:
        """Open an element; True when it was rendered whole and its subtree must be skipped."""
        if self.heading:
            if tag == "br":
                self.buffer.append("\n")  # a line break, not a space, between two Japanese words
                return False
            if tag == "a":
                self.link_starts.append(len(self.buffer))
                return False
            if tag not in _HEADING_BREAKERS:
                return False
            # An unclosed <h2> swallows the rest of the section in the parse tree (browsers do
            # the same, but show the list as a list): end the heading where real blocks begin.
            self.end_heading()
        if tag in _HEADING_LEVELS:
            self.flush()
            self.heading = _HEADING_LEVELS[tag]
        elif tag == "br":
            self.flush()
        elif tag == "a":
            self.link_starts.append(len(self.buffer))
        elif tag == "li":
            self.flush()
            self.prefix = "- "
        elif tag == "tr" and _is_data_row(element):
            self.flush()
            cells = [_inline_text(cell, url=self.url) for cell in element if cell.tag in ("td", "th")]
            row = " | ".join(cell for cell in cells if cell)
            if row:
                self.lines.append(row)
            return True
        elif tag == "pre":
            self.flush()
            self.pre += 1
        elif tag in _BLOCK_TAGS:
            self.flush()
        return False

    def end(self, element: Element, tag: str) -> None:
        if tag == "a":
            if self.link_starts:
                self.reference_href(element, self.link_starts.pop())
            return
        if self.heading:
            if tag in _HEADING_LEVELS:
                self.end_heading()
            return
        if tag == "pre":
            self.flush()
            self.pre = max(0, self.pre - 1)
        elif tag == "li":
            self.flush()
            self.prefix = ""
        elif tag in _BLOCK_TAGS:
            self.flush()

    def end_heading(self) -> None:
        text = collapse_whitespace("".join(self.buffer))
        self.buffer.clear()
        if text:
            self.lines.append("#" * self.heading + " " + text)
        self.heading = 0
        self.prefix = ""

    def text(self, text: str | None) -> None:
        if not text:
            return
        if self.pre and not self.heading:
            first, *rest = text.split("\n")
            self.buffer.append(first)
            for line in rest:
                self.flush()
                self.buffer.append(line)
        else:
            self.buffer.append(text)

    def flush(self) -> None:
        text = collapse_whitespace("".join(self.buffer)) if self.buffer else ""
        self.buffer.clear()
        # A link spanning a block boundary: its label is what remains after the boundary.
        self.link_starts = [0] * len(self.link_starts)
        if text:
            self.lines.append(self.prefix + text)
            self.prefix = ""

    def reference_href(self, link: Element, start: int) -> None:
        href = link.get("href", "").strip()
        if not href:
            return
        if self.url:
            href = urljoin(self.url, href)
        elif href.startswith("//"):
            href = "https:" + href
        identifier = _reference_identifier(href)
        if identifier is None:
            return  # checked before joining the label: a paragraph of 10,000 links stays linear
        label = "".join(self.buffer[start:]).lower()
        bare = href.split("://", 1)[-1].lower()
        if identifier.lower() in unquote(label) or bare in label:
            return
        self.buffer.append(f" ({href})")
