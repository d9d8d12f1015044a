"""Extraction on the fixture pages: what must be kept, what must go, and inputs that must not crash."""

from __future__ import annotations

import codecs
import itertools
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from watcher.extract import (
    EXTRACTOR_VERSION,
    Decoded,
    Extracted,
    decode_body,
    detect_language,
    extract_document,
    extract_main_text,
    is_html,
    normalize,
    normalize_text,
)
from watcher.extract.decode import codec_for
from watcher.extract.normalize import count_chars

PAGES = Path(__file__).parent / "fixtures" / "pages"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    language: str
    lines: list[str]  # each must be a whole line of the output
    absent: list[str] = field(default_factory=list)  # none may occur anywhere in the output
    content_type: str | None = "text/html"


CASES = [
    Case(
        name="wp_blog_post.html",
        title="エクソソーム点滴は気分の落ち込みに役立つのか",
        language="mixed",
        lines=[
            "# エクソソーム点滴は気分の落ち込みに役立つのか",
            # a newline inside a Japanese sentence is not a space; inline <strong> adds none
            "こんにちは。さくら通りクリニック院長の山田です。今回は、外来でよくご質問いただくエクソソーム点滴と"
            "気分の落ち込みの関係について、現時点でわかっていることを整理します。",
            "## エクソソームが注目される理由",
            # <br> splits the paragraph
            "動物を使った研究では、脳の炎症を示す物質が減ったという報告があります。",
            "ただし、人を対象にした研究はまだ少なく、効果が確かめられたとは言えません。",
            "### 期待されている作用",
            "- 炎症をしずめる働き",
            "- 神経細胞の修復を手助けする働き",
            "- シナプスのつながりを保つ",  # nested list flattened
            "## 当院で相談を受けている症状",
            "- うつ病(治療抵抗性のものを含む)",  # NFKC: full-width parentheses
            "- 睡眠障害",  # a linked list item inside the article is content
            "段階 | 内容 | 目安",
            "点滴 | エクソソーム製剤を静脈から投与 | 約30分",
            "※効果には個人差があります。自由診療のため保険は適用されません。",
            "### 参考文献",
            "- Tanaka H, Mori K. Extracellular vesicles reduce microglial activation in a rodent stress model."
            " J Exp Neuropsychiatry. 2021;14:201-210. 論文を読む (https://doi.org/10.1000/jen.2021.0142)",
            "- Ito S, et al. Vesicle therapy and mood: a narrative review. Regen Med Rev. 2022;8:55-67."
            " PubMed (https://pubmed.ncbi.nlm.nih.gov/30000001/)",
            # the link text is the URL already: not repeated
            "- Suzuki A. Inflammation and depression revisited. https://doi.org/10.1000/imr.2019.77",
            "## Exosome infusions and low mood (English summary)",
            "Exosomes are tiny vesicles released by cells. Animal studies suggest that they may calm inflammation"
            " in the brain, but studies in people are still few, and no benefit has been proven.",
            "- Depression, including treatment-resistant cases",
        ],
        absent=[
            "クッキー",
            "同意して閉じる",  # cookie banner
            "コンテンツへスキップ",  # skip link
            "トップページ",
            "料金一覧",
            "アクセス・診療時間",  # menu
            "03-0000-1234",  # header phone
            "ホーム",
            "院長ブログ",  # breadcrumbs
            "2025年2月14日",
            "cat-links",  # entry meta
            "シェア",
            "LINEで送る",  # share buttons
            "タグ:",
            "気分障害",  # entry footer
            "関連記事",
            "NMN点滴で疲れやすさは変わるのか",  # related posts
            "コメントを残す",
            "メールアドレスが公開されることはありません",  # comments
            "最近の投稿",
            "幹細胞上清液と膝の痛み",
            "発達障害とエクソソーム",  # sidebar
            "カテゴリー",
            "アーカイブ",
            "2025年1月",
            "〒150-0000",
            "桜通り1-2-3",
            "診療時間",
            "日曜・祝日",
            "All rights reserved",  # footer
            "STYLE-LEAK-MARKER",
            "SCRIPT-LEAK-MARKER",
            "dataLayer",
            "border-left",
            "さくら通りクリニック\n",  # the site title in the header
        ],
    ),
    Case(
        name="div_layout.html",
        title="NMN点滴療法について",
        language="ja",
        lines=[
            "# NMN点滴療法について",  # inside div.content-header, which must survive
            "年齢とともに減っていく補酵素を点滴で補う自由診療です。",
            "## こんな方にご相談いただいています",
            "- 疲れが抜けにくい",
            "- 集中力の低下が気になる",
            "### 期待される変化",
            "睡眠の質や活力の改善が期待されていますが、人での研究は限られており、"
            "研究の現状についても診察時にご説明します。",
            "内容 | 料金(税込)",
            "NMN点滴 100mg | 33,000円",
        ],
        absent=[
            "HOME",
            "初めての方へ",
            "交通案内",  # link-only top menu, no class hints
            "045-000-5678",  # div#head
            "最新情報",
            "3月の休診日のお知らせ",
            "駐車場が移転しました",  # link-heavy side column
            "診療メニュー",
            "にんにく注射",
            "〒231-0000",
            "Copyright",  # div#footer
        ],
    ),
    Case(
        name="malformed.html",
        title="高濃度ビタミンC点滴の注意点",
        language="ja",
        lines=[
            "# 高濃度ビタミンC点滴の注意点",
            "点滴の前には必ずG6PD検査を受けていただきます。",
            "## こんな方はご相談ください",  # unclosed <h2> ends where the list begins
            "- 腎臓の病気がある方",
            "- 透析を受けている方",
            "- 妊娠中の方",
            "1回目 | 12.5g",
            "2回目 | 25g",
            "ご不明な点はお問い合わせください。",
        ],
        absent=["トップ", "〒000-0000", "092-000-0000"],
    ),
    Case(
        name="en_treatment.html",
        title="Stem Cell Secretome Therapy",
        language="en",
        lines=[
            "# Stem Cell Secretome Therapy",
            "## Conditions we treat",
            "- Major depressive disorder",
            "- Long COVID fatigue",
            "- Early-stage knee osteoarthritis",
            "### Possible side effects",
            "- Bruising at the injection site",
            "## References",
            "- Garcia M, Chen L. Secreted factors of mesenchymal cells in mood disorders. Stem Cell Rev."
            " 2020;16:410-422. PubMed (https://pubmed.ncbi.nlm.nih.gov/31111111/)",
            # the DOI is the link text already
            "- Okafor N, et al. Vesicle infusions after viral illness: a pilot study. Regen Ther. 2023;5:12-19."
            " doi: 10.1000/rt.2023.012",
            "- Novak P. Cartilage and the secretome. Joint Res. 2019;3:1-9."
            " Full text (https://www.ncbi.nlm.nih.gov/pmc/articles/PMC7000001/)",
        ],
        absent=[
            "Our Doctors",
            "Book a",
            "Treatments /",
            "MedicalClinic",
            "Minato-ku",
            "Monday to Saturday",
            "©",
            "Ready to talk",
        ],
    ),
    Case(
        name="sjis_declared.html",
        title="TMS治療のご案内",
        language="ja",
        lines=[
            "# TMS治療のご案内",
            "TMS(経頭蓋磁気刺激)治療は、頭の外から磁気をあてて脳の働きを整える治療法です。"
            "お薬で十分な効果が得られなかったうつ病の方を中心にご相談いただいています。",
            "- 1 初診・適応の確認",  # ① (cp932 only) after NFKC
            "院長 髙橋(医療法人(株)ではなく医療法人社団です)が担当します。",
        ],
        absent=["アクセス", "ご予約", "大阪府"],
    ),
    Case(
        name="sjis_undeclared.html",
        title="幹細胞上清液の点滴について",
        language="ja",
        lines=[
            "# 幹細胞上清液の点滴について",
            "## ご注意いただきたいこと",
            "- 効果は確立されたものではありません",
        ],
        content_type=None,
    ),
    Case(
        name="eucjp.html",
        title="エクソソーム療法とパーキンソン病",
        language="ja",
        lines=[
            "# エクソソーム療法とパーキンソン病",
            "## 現時点での考え方",
            "人での有効性はまだ確かめられていないため、当院では臨床研究として慎重に行っています。",
        ],
        content_type="text/html",
    ),
    Case(
        name="contact_captcha_trap.html",
        title="ご予約・お問い合わせ",
        language="ja",
        lines=[
            "# ご予約・お問い合わせ",
            "## アクセス",
            "※このフォームはスパム防止のためreCAPTCHA(captcha)を利用しています。"
            "送信できない場合は、ブラウザのJavaScriptを有効にしてください。",
        ],
        absent=["お名前", "送信する", "Cloudflare", "email", "〒980-0000", "診療メニュー"],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_fixture_page(case: Case) -> None:
    extracted = extract_document(page(case.name), content_type=case.content_type, url="https://clinic.example/p")
    lines = extracted.text.split("\n")
    assert extracted.title == case.title
    assert extracted.language == case.language
    missing = [line for line in case.lines if line not in lines]
    assert not missing, f"missing lines: {missing}\n--- got:\n{extracted.text}"
    leaked = [text for text in case.absent if text in extracted.text + "\n"]
    assert not leaked, f"boilerplate leaked: {leaked}\n--- got:\n{extracted.text}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_output_is_normalized_and_deduplicated(case: Case) -> None:
    text = extract_document(page(case.name), content_type=case.content_type).text
    assert text == normalize_text(text)
    lines = text.split("\n")
    assert all(line and line == line.strip() for line in lines)
    assert all(a != b for a, b in itertools.pairwise(lines))


def test_headings_keep_document_order() -> None:
    text = extract_document(page("wp_blog_post.html"), content_type="text/html").text
    headings = [line for line in text.split("\n") if line.startswith("#")]
    assert headings == [
        "# エクソソーム点滴は気分の落ち込みに役立つのか",
        "## エクソソームが注目される理由",
        "### 期待されている作用",
        "## 当院で相談を受けている症状",
        "## 治療の流れ",
        "### 参考文献",
        "## Exosome infusions and low mood (English summary)",
    ]


# --- rules, one at a time ------------------------------------------------------------------------


def lines_of(html: str) -> list[str]:
    return extract_main_text(html).text.split("\n")


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            "<p>エクソソーム\n<strong>治療</strong>の\n<a href='/x'>説明</a></p>",
            ["エクソソーム治療の説明"],
            id="japanese-inline-no-spaces",
        ),
        pytest.param(
            "<p>Exosome\n  <strong>therapy</strong>   <em>may</em> help</p>",
            ["Exosome therapy may help"],
            id="english-inline-single-spaces",
        ),
        pytest.param("<p>TMSは\n<b>FDA</b>で承認</p>", ["TMSは FDAで承認"], id="mixed-keeps-spaces-at-latin"),
        pytest.param("<p><ruby>鬱<rp>(</rp><rt>うつ</rt><rp>)</rp></ruby>病</p>", ["鬱病"], id="ruby-base-text"),
        pytest.param("<p>一行目<br>二行目<br/><br>三行目</p>", ["一行目", "二行目", "三行目"], id="br-splits"),
        pytest.param("<h2>うつ病に<br>対する効果</h2>", ["## うつ病に対する効果"], id="br-in-japanese-heading"),
        pytest.param(
            "<h3>Why <span>it</span> works</h3><h6>x</h6>", ["### Why it works", "###### x"], id="heading-levels"
        ),
        pytest.param(
            "<ol><li>A<ol><li>A1</li><li>A2<ul><li>A2a</li></ul></li></ol></li><li>B</li></ol>",
            ["- A", "- A1", "- A2", "- A2a", "- B"],
            id="nested-lists-flattened",
        ),
        pytest.param("<ul><li><p>段落の項目</p></li></ul>", ["- 段落の項目"], id="paragraph-inside-item"),
        pytest.param(
            "<table><tr><th>回数</th><th>料金</th></tr><tr><td>1回</td><td>1万円</td></tr></table>",
            ["回数 | 料金", "1回 | 1万円"],
            id="table-rows",
        ),
        pytest.param(
            "<table><tr><td><h2>見出し</h2><p>本文です。</p></td><td><ul><li>項目</li></ul></td></tr></table>",
            ["## 見出し", "本文です。", "- 項目"],
            id="layout-table-cells-are-blocks",
        ),
        pytest.param(
            "<p>同じ行</p><p>同じ行</p><p>別の行</p><p>同じ行</p>",
            ["同じ行", "別の行", "同じ行"],
            id="consecutive-duplicates-dropped",
        ),
        pytest.param("<p>ＡＢＣ　１２３ ｴｸｿｿｰﾑ</p>", ["ABC 123 エクソソーム"], id="nfkc"),
        pytest.param("<pre>line one\n  line two\n</pre>", ["line one", "line two"], id="pre-keeps-lines"),
        pytest.param("<p>A&nbsp;&nbsp;B</p><p>&nbsp;</p><p>\u200bC\u200b</p>", ["A B", "C"], id="nbsp-and-zero-width"),
    ],
)
def test_rendering_rules(html: str, expected: list[str]) -> None:
    assert lines_of(html) == expected


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param(
            '<p>Smith J. Title. <a href="https://doi.org/10.1000/x.1">link</a></p>',
            ["Smith J. Title. link (https://doi.org/10.1000/x.1)"],
            id="doi-href-appended",
        ),
        pytest.param(
            '<p><a href="https://doi.org/10.1000/x.1">doi:10.1000/x.1</a></p>',
            ["doi:10.1000/x.1"],
            id="doi-already-in-text",
        ),
        pytest.param(
            '<p><a href="//pubmed.ncbi.nlm.nih.gov/123456/">PubMed</a></p>',
            ["PubMed (https://pubmed.ncbi.nlm.nih.gov/123456/)"],
            id="protocol-relative",
        ),
        pytest.param(
            '<p><a href="https://pubmed.ncbi.nlm.nih.gov/123456/">PMID: 123456</a></p>',
            ["PMID: 123456"],
            id="pmid-already-in-link-text",
        ),
        pytest.param(
            '<p>詳しくは<a href="https://clinic.example/blog/">こちら</a></p>',
            ["詳しくはこちら"],
            id="ordinary-link-url-dropped",
        ),
    ],
)
def test_reference_links(html: str, expected: list[str]) -> None:
    assert lines_of(html) == expected


BODY_TEXT = "<p>" + "エクソソーム点滴についての本文です。" * 8 + "</p>"


ENGLISH_BODY = "<p>" + "The clinic describes its exosome infusion in plain words here. " * 6 + "</p>"


def clinic_page(*blocks: str) -> str:
    """A <main> with the title and the Japanese body, then ``blocks``."""
    return f"<main><h1>題名</h1>{BODY_TEXT}{''.join(blocks)}</main>"


def repeated(template: str, count: int) -> str:
    return "".join(template.format(n=n) for n in range(count))


STORY = "Another story about regenerative care {n}"
PROSE = "Long section text that reads as the article itself. "


# Teaser cards, label runs and boilerplate nested in a spared block (each rule can fail on its own).
NESTED_AND_TEASER_CASES = [
    pytest.param(
        clinic_page(
            ENGLISH_BODY,
            "<div class='grid'>",
            repeated(f"<div><span>Clinic news</span><a href='/{{n}}'><h3>{STORY}</h3></a><p>Excerpt.</p></div>", 4),
            "</div>",
        ),
        "# 題名",
        "Another story",
        id="div-card-grid-dropped",
    ),
    pytest.param(
        clinic_page(
            "<div>",
            repeated(f"<article><h3><a href='/{{n}}'>{STORY}</a></h3><p>Excerpt.</p></article>", 3),
            "</div>",
        ),
        "# 題名",
        "Another story",
        id="article-card-grid-with-linked-headings-dropped",
    ),
    pytest.param(
        clinic_page(
            "<div>",
            repeated("<div><h3><a href='/{n}'>幹細胞治療{n}</a></h3><p>関節の痛みに。</p></div>", 4),
            "</div>",
        ),
        "### 幹細胞治療1",
        "never-there",
        id="treatment-cards-with-short-names-kept",
    ),
    pytest.param(
        clinic_page(
            "<div>",
            repeated(f"<section><h3><a href='/{{n}}'>{STORY}</a></h3><p>{PROSE * 8}</p></section>", 3),
            "</div>",
        ),
        (PROSE * 8).strip(),
        "never-there",
        id="sections-with-linked-headings-and-prose-kept",
    ),
    pytest.param(
        clinic_page(
            "<p>You may also like...</p>",
            repeated(f"<p><a href='/{{n}}'>{STORY}</a></p>", 3),
            "<p>Back to the article: this closing paragraph is the clinic's own text.</p>",
        ),
        "Back to the article: this closing paragraph is the clinic's own text.",
        "Another story",
        id="headline-paragraphs-after-a-label-dropped-until-prose",
    ),
    pytest.param(
        clinic_page("<h2>関連記事</h2>", repeated("<p><a href='/{n}'>別の記事のタイトル{n}</a></p>", 3)),
        "# 題名",
        "別の記事",
        id="headline-paragraphs-after-a-heading-dropped",
    ),
    pytest.param(
        clinic_page(
            f"<div class='content-with-sidebar-wrap'><p>{'本文の続きです。' * 30}<span class='rollover-card'>",
            "<a href='/p'>院長</a><a href='/x'>院長の別の記事その一</a></span>が説明します。</p>",
            "<div class='share-buttons'><a href='/s'>シェア</a></div></div>",
        ),
        "本文の続きです。" * 30 + "が説明します。",
        "シェア",
        id="chrome-inside-a-spared-core-dropped",
    ),
    pytest.param(
        clinic_page(
            "<div class='contributor-bio'><p>Written by a staff nurse who has worked here for ten years.</p></div>",
            "<div class='most-read'><p>Some story people read a lot today in the region</p></div>",
            "<div class='next-prev'><p>Previous story in the series of posts</p></div>",
        ),
        "# 題名",
        "story",
        id="contributor-bio-most-read-next-prev-dropped",
    ),
]


@pytest.mark.parametrize(
    ("html", "kept", "dropped"),
    [
        pytest.param(
            f'<div class="site-header"><p>ロゴ</p></div><div class="content-header"><h1>題名</h1></div>{BODY_TEXT}',
            "# 題名",
            "ロゴ",
            id="content-header-kept-site-header-dropped",
        ),
        pytest.param(
            f'<div id="header"><p>ロゴ</p></div><div class="entry-header"><h1>題名</h1></div>{BODY_TEXT}',
            "# 題名",
            "ロゴ",
            id="id-header-dropped-entry-header-kept",
        ),
        pytest.param(
            f'<body class="single category-blog tag-nmn"><div class="post category-blog tag-nmn">'
            f"<h1>題名</h1>{BODY_TEXT}</div></body>",
            "# 題名",
            "never-there",
            id="wordpress-post-classes-are-not-boilerplate",
        ),
        pytest.param(
            f'<div class="elementor-widget elementor-widget-text-editor"><h1>題名</h1>{BODY_TEXT}</div>'
            '<div class="elementor-widget elementor-nav-menu"><a href="/">メニュー</a></div>',
            "# 題名",
            "メニュー",
            id="elementor-widgets-are-content",
        ),
        pytest.param(
            f'<div class="l-wrap has-sidebar"><h1>題名</h1>{BODY_TEXT}</div>',
            "# 題名",
            "never-there",
            id="state-modifier-classes-ignored",
        ),
        pytest.param(
            f'<form id="aspnetForm" action="/page.aspx"><h1>題名</h1>{BODY_TEXT}<input type="hidden" value="x"></form>',
            "# 題名",
            "never-there",
            id="page-wrapping-form-kept",
        ),
        pytest.param(
            f"<h1>題名</h1>{BODY_TEXT}<form><p>検索キーワード</p><input name='q'></form>",
            "# 題名",
            "検索キーワード",
            id="widget-form-dropped",
        ),
        pytest.param(
            f'<h1>題名</h1>{BODY_TEXT}<p style="display: none">隠れた文</p><p hidden>隠し2</p>'
            '<p aria-hidden="true">隠し3</p><span class="sr-only">読み上げ用</span>',
            "# 題名",
            "隠",
            id="hidden-elements-dropped",
        ),
        pytest.param(
            f"<main><h1>題名</h1>{BODY_TEXT}<h2>最近の投稿</h2><ul><li><a href='/a'>別の記事その一</a></li>"
            "<li><a href='/b'>別の記事その二</a></li></ul></main>",
            "# 題名",
            "別の記事",
            id="boilerplate-heading-and-its-link-list",
        ),
        pytest.param(
            f"<main><h1>題名</h1>{BODY_TEXT}<div><h3>Related posts</h3><ul><li><a href='/a'>Other one"
            "</a></li><li><a href='/b'>Other two</a></li></ul></div></main>",
            "# 題名",
            "Other",
            id="english-boilerplate-heading-block",
        ),
        pytest.param(
            f"<article><h1>題名</h1>{BODY_TEXT}<section><h2>対象疾患</h2><ul>"
            "<li><a href='/d'>うつ病</a></li><li><a href='/s'>統合失調症</a></li>"
            "<li><a href='/a'>不安障害</a></li></ul></section></article>",
            "- 統合失調症",
            "never-there",
            id="linked-condition-list-in-a-section-kept",
        ),
        pytest.param(
            f"<article><h1>題名</h1>{BODY_TEXT}</article><article><p>短い別記事</p></article>",
            "# 題名",
            "短い別記事",
            id="longest-article-wins",
        ),
        pytest.param(
            f"<main><p>ヒーロー画像</p></main><div class='entry-content'><h1>題名</h1>{BODY_TEXT}</div>",
            "# 題名",
            "ヒーロー",
            id="tiny-main-is-not-the-root",
        ),
        pytest.param(
            f"<div id='content'><div class='entry-header'><h1>題名</h1></div><div class='entry-content'>"
            f"{BODY_TEXT}</div></div>",
            "# 題名",
            "never-there",
            id="title-above-entry-content",
        ),
        # Weak class words name content on clinic pages; they count only for boilerplate-shaped blocks.
        pytest.param(
            f"<main><h1>題名</h1>{BODY_TEXT}<div class='side-effects'><p>まれに発熱や頭痛が起こることが"
            "あります。</p></div><ul class='menu'><li><a href='/a'>トップ</a></li><li><a href='/b'>料金"
            "</a></li></ul></main>",
            "まれに発熱や頭痛が起こることがあります。",
            "料金",
            id="side-effects-box-kept-link-menu-dropped",
        ),
        pytest.param(
            f"<main><h1>題名</h1>{BODY_TEXT}<div class='doctor-comment'><p>院長より: 効果には個人差が"
            "あります。</p></div><div class='comments-area'><p>匿名さんの感想です。</p></div></main>",
            "院長より: 効果には個人差があります。",
            "匿名さん",
            id="doctor-comment-kept-comments-dropped",
        ),
        pytest.param(
            f"<main><h1>題名</h1>{BODY_TEXT}<div class='recommend'><h2>このような方におすすめです</h2>"
            "<ul><li>眠りが浅い</li><li>疲れやすい</li></ul></div></main>",
            "- 眠りが浅い",
            "never-there",
            id="recommend-box-kept",
        ),
        pytest.param(
            f"<main><h1>題名</h1>{BODY_TEXT}<section class='menu-section'><h2>エクソソーム点滴</h2>"
            "<p>1回あたり約30分の点滴です。</p></section></main>",
            "## エクソソーム点滴",
            "never-there",
            id="treatment-menu-section-kept",
        ),
        pytest.param(
            f"<main><div class='c-box__header'><h2>小見出し</h2></div>{BODY_TEXT}"
            "<span class='post-date'>2025.01.09</span></main>",
            "## 小見出し",
            "2025.01.09",
            id="box-header-kept-date-dropped",
        ),
        pytest.param(
            f"<article><h1>題名</h1>{BODY_TEXT}<div class='social-anxiety'><p>社交不安障害の方にも"
            "ご相談いただいています。</p></div></article>",
            "社交不安障害の方にもご相談いただいています。",
            "never-there",
            id="social-anxiety-kept",
        ),
        pytest.param(
            f"<main><h1>題名</h1>{BODY_TEXT}<div id='toc_container'><p>目次</p><ul><li><a href='#a'>A"
            "</a></li></ul></div><div class='wp-block-latest-posts'><a href='/x'>最新X</a></div></main>",
            "# 題名",
            "目次",
            id="toc-and-latest-posts-blocks",
        ),
        *NESTED_AND_TEASER_CASES,
    ],
)
def test_boilerplate_rules(html: str, kept: str, dropped: str) -> None:
    assert_kept_and_dropped(html, kept, dropped)


def assert_kept_and_dropped(html: str, kept: str, dropped: str) -> None:
    extracted = extract_main_text(html)
    assert kept in extracted.text.split("\n"), extracted.text
    assert dropped not in extracted.text
    assert "エクソソーム点滴についての本文です。" in extracted.text


def test_title_falls_back_to_og_title_then_title() -> None:
    og = (
        '<html><head><title>T | Clinic</title><meta property="og:title" content="OG title"></head>'
        "<body><p>本文</p></body></html>"
    )
    assert extract_main_text(og).title == "OG title"
    plain = "<html><head><title> T  | Clinic </title></head><body><p>本文</p></body></html>"
    assert extract_main_text(plain).title == "T | Clinic"
    assert extract_main_text("<p>本文</p>").title is None


# --- decoding ------------------------------------------------------------------------------------


def test_shift_jis_declared_decodes_as_cp932() -> None:
    decoded = decode_body(page("sjis_declared.html"))
    assert decoded.encoding == "cp932"
    assert "①　初診" in decoded.text and "髙橋" in decoded.text and "㈱" in decoded.text


def test_shift_jis_undeclared_is_detected() -> None:
    body = page("sjis_undeclared.html")
    assert b"charset" not in body.lower()
    decoded = decode_body(body)
    assert decoded.encoding == "cp932"
    assert "幹細胞を培養したあとの液体" in decoded.text


def test_euc_jp_declared_and_undeclared() -> None:
    body = page("eucjp.html")
    assert decode_body(body) == Decoded(body.decode("euc_jp"), "euc_jp")
    undeclared = body.replace(b'<meta charset="EUC-JP">', b"")
    decoded = decode_body(undeclared)
    assert decoded.encoding == "euc_jp"
    assert "パーキンソン病では、ドパミンをつくる神経細胞" in decoded.text


JA = "エクソソームは細胞から分泌される小さな小胞で、うつ病への応用が研究されています。"


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        pytest.param(JA.encode("cp932"), "text/html; charset=Shift_JIS", "cp932", id="header-shift-jis"),
        pytest.param(JA.encode("cp932"), "text/html; charset=x-sjis", "cp932", id="header-x-sjis"),
        pytest.param(JA.encode("cp932"), 'text/html; charset="sjis"', "cp932", id="header-quoted-sjis"),
        pytest.param(JA.encode("euc_jp"), "text/html; charset=EUC-JP", "euc_jp", id="header-euc-jp"),
        pytest.param(JA.encode("cp932"), "text/html; charset=utf-8", "cp932", id="header-utf8-but-sjis-body"),
        pytest.param(JA.encode("cp932"), "text/html; charset=no-such-charset", "cp932", id="unknown-label"),
        pytest.param(JA.encode("cp932"), "text/html; charset=base64", "cp932", id="bytes-codec-label-ignored"),
        pytest.param(JA.encode(), "text/html; charset=Shift_JIS", "utf-8", id="utf8-body-beats-legacy-label"),
        pytest.param(JA.encode(), "text/html; charset=ISO-8859-1", "utf-8", id="server-default-latin1"),
        pytest.param(
            "Caf\u00e9 cr\u00e8me".encode("latin-1"), "text/html; charset=ISO-8859-1", "cp1252", id="real-latin1"
        ),
        pytest.param(b'<meta charset="shift_jis">' + JA.encode("cp932"), None, "cp932", id="meta-charset"),
        pytest.param(
            b'<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">' + JA.encode("euc_jp"),
            None,
            "euc_jp",
            id="meta-http-equiv",
        ),
        pytest.param(b'<meta charset="utf-16">' + JA.encode(), None, "utf-8", id="meta-utf16-means-utf8"),
        pytest.param(
            b'<?xml version="1.0" encoding="Shift_JIS"?><html>' + JA.encode("cp932"),
            None,
            "cp932",
            id="xml-declaration",
        ),
        pytest.param(codecs.BOM_UTF8 + JA.encode(), "text/html; charset=Shift_JIS", "utf-8", id="bom-wins"),
        pytest.param(codecs.BOM_UTF16_LE + JA.encode("utf-16-le"), None, "utf-16-le", id="utf16-bom"),
        pytest.param(("<p>" + JA).encode("utf-16-le"), "text/html; charset=UTF-16LE", "utf-16-le", id="utf16-header"),
        pytest.param(JA.encode(), "text/html; charset=utf-16", "utf-8", id="utf16-header-on-utf8-body"),
        pytest.param(JA.encode("iso2022_jp"), None, "iso2022_jp", id="iso-2022-jp"),
        pytest.param(b"plain ascii", None, "utf-8", id="ascii"),
    ],
)
def test_charset_resolution(body: bytes, content_type: str | None, encoding: str) -> None:
    decoded = decode_body(body, content_type=content_type)
    assert decoded.encoding == encoding
    if encoding not in ("cp1252",) and body != b"plain ascii":
        assert JA in decoded.text


def test_cut_multibyte_character_and_stray_byte_stay_utf8() -> None:
    body = ("<p>" + JA * 20 + "</p>").encode()
    cut = body[:-5]  # ends inside a 3-byte character
    decoded = decode_body(cut)
    assert decoded.encoding == "utf-8"
    assert decoded.text.startswith("<p>" + JA)
    stray = body[:300] + b"\x93" + body[300:]  # one cp1252 quote pasted into a UTF-8 page
    assert decode_body(stray, content_type="text/html; charset=utf-8").encoding == "utf-8"
    assert decode_body(stray).encoding == "utf-8"


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("Shift_JIS", "cp932"),
        ("shift-jis", "cp932"),
        ("SJIS", "cp932"),
        ("x-sjis", "cp932"),
        ("Windows-31J", "cp932"),
        ("MS_Kanji", "cp932"),
        ("EUC-JP", "euc_jp"),
        ("x-euc-jp", "euc_jp"),
        ("UTF8", "utf-8"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("iso-8859-15", "iso8859-15"),
        ("utf-7", None),
        ("unicode_escape", None),
        ("idna", None),
        ("rot13", None),
        ("hex", None),
        ("", None),
        ("x-user-defined", None),
    ],
)
def test_charset_labels(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00" * 100,
        b"\xff\xfe\xfd\x80\x81",
        os.urandom(5000),
        bytes(range(256)) * 20,
        b"\x1b$B\xff\xff",
        b"<meta charset='utf-8'>\xff\xfe\x80",
    ],
    ids=["empty", "nul", "junk", "random", "all-bytes", "broken-iso2022", "lying-meta"],
)
def test_decode_never_raises(body: bytes) -> None:
    decoded = decode_body(body, content_type="text/html; charset=utf-8")
    assert isinstance(decoded.text, str)
    assert isinstance(decode_body(body).text, str)


# --- robustness ----------------------------------------------------------------------------------


def _huge_page() -> str:
    rng = random.Random(7)
    blocks = ["<html><body><main><h1>巨大なページ</h1>"]
    size = 0
    index = 0
    while size < 5_000_000:
        block = (
            f"<div class='sec'><h2>見出し{index}</h2><p>本文{rng.random()}: エクソソームの研究は進んでいます。"
            f"<a href='/x{index}'>リンク</a></p><ul><li>項目{index}</li></ul></div>"
        )
        blocks.append(block)
        size += len(block)
        index += 1
    return "".join(blocks) + "</main></body></html>"


@pytest.mark.parametrize(
    "html",
    [
        "",
        "   \n\t ",
        "<!-- only a comment -->",
        "<?xml version='1.0' encoding='utf-8'?><html><body><p>本文</p></body></html>",
        "\x00\x01\x02<p>a\x00b</p>\x7f",
        "<p>lone surrogate \ud800 here</p>",
        "<<<>>><//><p <p <a href=>>></a",
        "</div></div></p></body></html>",
        "<html><head><title>x</title></head></html>",
        "<div>" * 100_000 + "深い" + "</div>" * 100_000,
        "<b>" * 50_000 + "太字" + "</i>" * 50_000,
        "<table>" + "<tr><td>" * 20_000 + "セル",
        bytes(range(256)).decode("latin-1") * 50,
        "<p>" + "<a href='/x'>リンク</a>" * 20_000 + "</p>",
    ],
    ids=[
        "empty",
        "whitespace",
        "comment",
        "xml-declaration",
        "controls",
        "surrogate",
        "garbage-tags",
        "stray-closers",
        "no-body",
        "deep-divs",
        "deep-inline",
        "unclosed-table",
        "binary-as-text",
        "many-links",
    ],
)
def test_malformed_input_never_raises(html: str) -> None:
    extracted = extract_main_text(html)
    assert isinstance(extracted, Extracted)
    assert isinstance(extracted.text, str)
    assert extracted.text == normalize_text(extracted.text)


def test_xml_declaration_page_is_read() -> None:
    assert lines_of("<?xml version='1.0' encoding='utf-8'?><html><body><p>本文</p></body></html>") == ["本文"]


def test_five_megabyte_page() -> None:
    extracted = extract_main_text(_huge_page())
    lines = extracted.text.split("\n")
    assert lines[0] == "# 巨大なページ"
    assert "## 見出し1000" in lines and "- 項目1000" in lines


@pytest.mark.parametrize(
    "body",
    [b"\x89PNG\r\n\x1a\n" + os.urandom(2000), b"%PDF-1.7\n" + os.urandom(2000), os.urandom(100_000)],
    ids=["png", "pdf", "random"],
)
def test_extract_document_survives_binary(body: bytes) -> None:
    assert isinstance(extract_document(body).text, str)
    assert isinstance(extract_document(body, content_type="text/html").text, str)


def test_bytes_given_to_extract_main_text_are_decoded() -> None:
    extracted = extract_main_text(page("sjis_declared.html"))  # type: ignore[arg-type]
    assert extracted.title == "TMS治療のご案内"


# --- documents, normalisation, language ----------------------------------------------------------


def test_plain_text_documents() -> None:
    text = "  タイトル\r\n\r\n本文　です。\n\n\nEnglish   line  \n"
    extracted = extract_document(text.encode("cp932"), content_type="text/plain; charset=Shift_JIS")
    assert extracted == Extracted(title=None, text="タイトル\n本文 です。\nEnglish line", language="mixed")
    sniffed = extract_document("メモ: <これはタグではない>\n二行目".encode())
    assert sniffed.text == "メモ: <これはタグではない>\n二行目"


def test_files_without_content_type_are_sniffed() -> None:
    assert is_html("<!DOCTYPE html><html><body>x</body></html>")
    assert is_html("\n\n<div class='a'>x</div>")
    assert not is_html("a < b and c > d")
    assert is_html("plain", content_type="application/xhtml+xml")
    assert not is_html("<p>x</p>", content_type="text/plain")
    saved = extract_document(page("wp_blog_post.html"))  # `watcher compare` passes no Content-Type
    assert saved == extract_document(page("wp_blog_post.html"), content_type="text/html; charset=utf-8")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＴＭＳ　治療\r\n\r\n  ｴｸｿｿｰﾑ  点滴  \r", "TMS 治療\nエクソソーム 点滴"),
        ("a\u2028b\u2029c\x0bd\x0ce\x85f", "a\nb\nc\nd\ne\nf"),
        ("\ufeffzero\u200bwidth\u00ad", "zerowidth"),
        ("tab\t\tseparated\x00junk", "tab separated junk"),
        ("\n\n \n", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected
    assert normalize_text(expected) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("", None),
        ("12345 !!!", None),
        ("エクソソームはうつ病の治療に使われることがあります。", "ja"),
        ("Exosome therapy may help some patients with depression.", "en"),
        (
            "エクソソーム点滴について説明します。効果には個人差があります。" * 3
            + "Tanaka H. J Exp Neurosci. 2021;14:201. doi:10.1000/x",
            "ja",
        ),
        (
            "エクソソームはうつ病の治療に使われることがあります。"
            "Exosomes are sometimes used to treat depression in our clinic.",
            "mixed",
        ),
    ],
)
def test_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_extractor_version_fits_its_column() -> None:
    assert EXTRACTOR_VERSION and len(EXTRACTOR_VERSION) <= 40


# --- around the title, card grids, label runs, nested boilerplate (each rule can fail on its own) ---


@pytest.mark.parametrize(
    ("html", "first_lines"),
    [
        pytest.param(
            f"<main><p><a href='/health'>Health</a></p><h1>Exosome infusion explained</h1>{ENGLISH_BODY}</main>",
            ["# Exosome infusion explained"],
            id="section-kicker-above-title-dropped",
        ),
        pytest.param(
            f"<main><span>https://example.org/print/exosome-infusion</span><p>Back to the news</p>"
            f"<h1>題名</h1>{BODY_TEXT}</main>",
            ["# 題名"],
            id="print-url-and-back-link-dropped",
        ),
        pytest.param(
            f"<main><p>{'当院は再生医療の専門クリニックとして開院以来多くの方を診てきました。' * 4}</p>"
            f"<h1>題名</h1>{BODY_TEXT}</main>",
            ["当院は再生医療の専門クリニックとして開院以来多くの方を診てきました。" * 4, "# 題名"],
            id="prose-above-title-kept",
        ),
        pytest.param(
            f"<main><h1>Exosome infusion explained</h1><h2>What the clinic offers, what it costs and what"
            f" the evidence says so far.</h2>{ENGLISH_BODY}</main>",
            ["# Exosome infusion explained", ENGLISH_BODY[3:-4].strip()[:20]],
            id="sentence-standfirst-dropped",
        ),
        pytest.param(
            f"<main><h1>Exosome infusion explained</h1><h2>Side effects</h2>{ENGLISH_BODY}</main>",
            ["# Exosome infusion explained", "## Side effects"],
            id="section-heading-under-title-kept",
        ),
        pytest.param(
            f"<main><h1>題名</h1><h2>幹細胞培養上清液の点滴について院長が詳しく説明します</h2>{BODY_TEXT}</main>",
            ["# 題名", "## 幹細胞培養上清液の点滴について院長が詳しく説明します"],
            id="japanese-heading-under-title-kept",
        ),
    ],
)
def test_lines_around_the_title(html: str, first_lines: list[str]) -> None:
    lines = extract_main_text(html).text.split("\n")
    for got, expected in zip(lines, first_lines, strict=False):
        assert got.startswith(expected), lines[:3]


def _normalize_line_by_line(text: str) -> str:
    """``normalize_text`` without its one-scan fast path: every line cleaned on its own."""
    lines = (normalize._in_pieces(raw, normalize._clean_line).strip() for raw in normalize.nfkc(text).splitlines())
    return "\n".join(line for line in lines if line)


def test_normalize_fast_path_equals_line_by_line() -> None:
    rng = random.Random(14)
    alphabet = "ab あ語 \n\r\t\x0b\x0c\x1c\x85\u2028\u2029\u3000\u00a0\u200b\ufeff\u00ad\x00\x7fＴｴ"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(3000)]
    texts += [page("wp_blog_post.html").decode("utf-8"), "a b\nc  d\n\n e \n"]
    for text in texts:
        assert normalize_text(text) == _normalize_line_by_line(text), repr(text)


def test_count_chars_counts_characters_not_runs() -> None:
    rng = random.Random(14)
    for _ in range(500):
        text = "".join(rng.choice("abＺ あア語 。\n1") for _ in range(rng.randint(0, 60)))
        assert count_chars(re.compile("[A-Za-z]+"), text) == sum(char.isascii() and char.isalpha() for char in text)
        assert count_chars(re.compile(r"\s+"), text) == sum(char.isspace() for char in text)


# --- the cheaper counting and collapsing give what the regular expressions they replace gave ---

_SPACING_SAMPLES = [
    "",
    "a b",
    "a  b\tc",
    "当院 では\u3000治療\u00a0を",
    " lead and trail ",
    "x\u2028y\u0085z\x1cq",
    "many    spaces   here",
    "ÅBC ß İ Ωmega 10 ｗｉｄｅ",
    "\u200b\u00ad zero width",
]


def test_no_whitespace_lies_above_u3000() -> None:
    """``normalize._OTHER_SPACES`` lists the whitespace up to U+3000 only: true of this Unicode database."""
    assert not any(chr(code).isspace() for code in range(0x3001, 0x110000))


def test_latin_letters_counts_what_the_ascii_letter_class_counts() -> None:
    from watcher.extract.language import latin_letters

    for text in _SPACING_SAMPLES:
        assert latin_letters(text) == len(re.findall("[A-Za-z]", text)), text


def test_collapsing_whitespace_on_one_line_equals_one_space_per_run() -> None:
    from watcher.extract.normalize import collapse_whitespace

    for text in _SPACING_SAMPLES:
        if "\n" not in text and "\r" not in text:
            assert collapse_whitespace(text) == re.sub(r"\s+", " ", text).strip(), text
