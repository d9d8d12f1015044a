"""Japanese clinic layouts (fixtures written for the project): every line of the body kept, no chrome;
the noise property (changing only chrome leaves the text unchanged); per-source selectors; the doubt signal."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lxml import etree

from watcher.errors import InputError
from watcher.extract import EXTRACTOR_VERSION, Selectors, extract_document, extract_main_text, extractor_version

LAYOUTS = Path(__file__).parent / "fixtures" / "layouts"


def layout(name: str) -> str:
    return (LAYOUTS / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    body: list[str]  # the whole main text, in order
    chrome: list[str] = field(default_factory=list)  # none may occur anywhere in the output


LAYOUT_CASES = [
    Layout(
        name="wp_cocoon.html",
        title="幹細胞培養上清液と肌の乾燥について",
        body=[
            "# 幹細胞培養上清液と肌の乾燥について",
            "こんにちは、院長の佐藤です。冬になると肌の乾燥についてのご相談が増えます。今回は、最近お問い合わせの多い幹細胞培養上清液について、わかっていることとわかっていないことをまとめました。",
            "## 培養上清液とは",
            "幹細胞を育てたときの液体から細胞を取り除いたものを培養上清液と呼びます。成長因子と呼ばれるたんぱく質が含まれていると説明されています。",
            "## 乾燥肌への使われ方",
            "当院では、保湿の外用治療で十分な効果がなかった方に、導入の選択肢としてご説明しています。",
            "- 保湿剤を塗っても粉をふく",
            "- 洗顔後につっぱり感が続く",
            "- 季節の変わり目に赤みが出やすい",
            "肌の水分量が増えたという小規模な報告はありますが、効果を確かめた大きな研究はまだありません。",
            "## 費用の目安",
            "内容 | 料金(税込)",
            "導入1回 | 16,500円",
            "5回セット | 77,000円",
            "※効果には個人差があります。自由診療のため保険は使えません。",
        ],
        chrome=[
            "ホーム",
            "料金表",
            "2025.03.02",
            "シェア",
            "目次",
            "スポンサーリンク",
            "乾燥肌\n",
            "この記事を書いた人",
            "皮膚科専門医",
            "関連記事",
            "NMN点滴と疲れやすさ",
            "ニキビ跡",
            "コメント",
            "メールアドレス",
            "最近の投稿",
            "〒160",
            "©",
            "上へ",
        ],
    ),
    Layout(
        name="wp_swell.html",
        title="TMS治療で気分の落ち込みはどう変わるのか",
        body=[
            "# TMS治療で気分の落ち込みはどう変わるのか",
            "TMS治療は、頭にあてたコイルから磁気を出して、脳の特定の部分の働きを整える治療です。お薬が合わなかった方から、どのくらいで変化があるのかをよく尋ねられます。",
            "## 治療の進め方",
            "1回の刺激はおよそ20分で、平日に週5回、6週間ほど続けるのが一般的な進め方です。",
            "ポイント",
            "治療中は会話ができ、終わったあとはそのまま仕事に戻れます。",
            "## 対象となる方",
            "- 2種類以上の抗うつ薬で十分に改善しなかったうつ病の方",
            "- お薬の副作用がつらく続けられなかった方",
            "海外の臨床試験では症状の改善が報告されていますが、すべての方に効果があるわけではありません。",
            "項目 | 費用",
            "初回評価 | 11,000円",
            "刺激1回 | 8,800円",
        ],
        chrome=[
            "MENU",
            "採用情報",
            "電話する",
            "ホーム",
            "コラム",
            "2025年5月20日",
            "目次",
            "ご予約はこちら",
            "シェア",
            "この記事を書いた人",
            "精神保健指定医",
            "関連記事",
            "眠れない夜",
            "人気記事",
            "大人のADHD",
            "プライバシー",
            "上へ",
        ],
    ),
    Layout(
        name="wp_lightning.html",
        title="NMN点滴の流れと注意点",
        body=[
            "# NMN点滴の流れと注意点",
            "NMN点滴は、体の中でエネルギーを作る働きにかかわる物質を点滴で補う自由診療です。当院での流れと、受ける前に知っておいていただきたいことをご紹介します。",
            "## 当日の流れ",
            "- 問診と血圧の測定",
            "- 医師の診察",
            "- 約30分の点滴",
            "### 受けられない方",
            "妊娠中の方、重い腎臓の病気がある方は点滴を受けられません。お薬を飲んでいる方は診察のときにお知らせください。",
            "疲れにくくなったという声はありますが、人を対象にした研究は少なく、効果は確かめられていません。",
        ],
        chrome=[
            "コンテンツへスキップ",
            "医院案内",
            "お知らせ・コラム",
            "HOME",
            "2025年1月15日",
            "院長\n",
            "カテゴリー",
            "前の記事",
            "年末年始",
            "当院の特徴",
            "土曜日も午後5時",
            "最近の投稿",
            "〒980",
            "Copyright",
            "Powered by",
        ],
    ),
    Layout(
        name="elementor.html",
        title="エクソソーム点滴",
        body=[
            "# エクソソーム点滴",
            "エクソソームは、細胞が出す小さな袋状の物質です。細胞どうしの情報のやりとりにかかわると考えられ、再生医療の分野で研究が進められています。",
            "## ご相談の多い症状",
            "- 慢性的な疲労感",
            "- 更年期のゆらぎ",
            "- 肌のハリの低下",
            "## 知っておいていただきたいこと",
            "人での効果や安全性はまだ十分に確かめられていません。国内で承認された治療ではなく、当院では医師が説明したうえで希望される方にのみ行っています。",
            "### 1回コース",
            "110,000円(税込)",
        ],
        chrome=["トップ", "アクセス", "06-0000-4444", "シェア", "LINEで送る", "WEB予約", "〒530", "©"],
    ),
    Layout(
        name="table_layout.html",
        title="プラセンタ注射",
        body=[
            "# プラセンタ注射",
            "プラセンタは胎盤から取り出した成分で、国内では更年期障害や肝機能障害の治療薬として承認されています。当院では美容目的の方にも自費で注射を行っています。",
            "## このような方に",
            "- 更年期のほてりや肩こりがつらい方",
            "- 疲れがとれにくい方",
            "## 料金",
            "回数 | 料金",
            "1アンプル | 1,650円",
            "2アンプル | 2,750円",
            "注射を受けた方は献血ができなくなります。詳しくは診察のときにご説明します。",
        ],
        chrome=[
            "0120-000-555",
            "トップ",
            "診療案内",
            "地図",
            "メニュー",
            "にんにく注射",
            "休診日",
            "〒390",
            "Copyright",
        ],
    ),
    Layout(
        name="bare_divs.html",
        title="院長ブログ | ほしぞら心療内科",
        body=[
            "統合失調症の治療で大切にしていること",
            "統合失調症は、幻聴や思い込みなどの症状が出る病気です。早く治療を始めるほど、生活への影響を小さくできるといわれています。",
            "当院では、お薬による治療を中心に、ご家族との面談やデイケアの紹介も行っています。",
            "気をつけていただきたいこと",
            "インターネットでは、点滴やサプリメントで治るという宣伝も見かけますが、そうした方法で統合失調症が治ると確かめられたものはありません。",
        ],
        chrome=["TEL", "当院について", "ブログ記事", "春先の不調", "診療時間", "2024.11.08", "札幌市", "©"],
    ),
    Layout(
        name="main_with_sidebar.html",
        title="高濃度ビタミンC点滴",
        body=[
            "# 高濃度ビタミンC点滴",
            "ビタミンCを口から飲むよりも高い濃度で血液中に届けるための点滴です。当院では、疲労感やかぜをひきやすいといったご相談のある方に行っています。",
            "## はじめる前の検査",
            "まれな体質の方では血液の成分がこわれることがあるため、初回の前に必ずG6PD検査を受けていただきます。",
            "## 回数の目安",
            "最初の1か月は週1回、その後は体調にあわせて間隔をあけていきます。",
        ],
        chrome=["ホーム", "予約", "新着情報", "夏季休診", "診療メニュー", "NMN点滴", "にんにく注射", "〒810", "©"],
    ),
    Layout(
        name="post_toc_comments_author.html",
        title="自閉スペクトラム症と幹細胞治療の広告について考える",
        body=[
            "# 自閉スペクトラム症と幹細胞治療の広告について考える",
            "外来で、幹細胞を使った治療で自閉スペクトラム症がよくなるという広告を見たがどう考えればよいか、というご質問をいただきました。小児科医として考えていることをお伝えします。",
            "## 広告で見かける表現",
            "「言葉が増えた」「目が合うようになった」といった体験談が紹介されていることが多いようです。",
            "## 研究でわかっていること",
            "海外で小規模な臨床試験は行われていますが、効果があると言える結果はまだ出ていません。日本では、この目的での治療は保険の対象ではありません。",
            "療育や環境の調整など、効果が確かめられている支援を続けることをおすすめしています。",
        ],
        chrome=[
            "医院紹介",
            "投稿日",
            "投稿者",
            "目次",
            "カテゴリー",
            "この記事を書いた人",
            "高田",
            "小児科専門医。",
            "フィードバック",
            "はるママ",
            "よくなったと言っていました",
            "コメントを残す",
            "予防接種",
            "©",
        ],
    ),
]


@pytest.mark.parametrize("case", LAYOUT_CASES, ids=lambda case: case.name)
def test_layout_keeps_the_body_and_no_chrome(case: Layout) -> None:
    extracted = extract_document((LAYOUTS / case.name).read_bytes(), content_type="text/html")
    assert extracted.text.split("\n") == case.body, extracted.text
    assert extracted.title == case.title
    assert extracted.language == "ja"
    assert extracted.doubt is None
    leaked = [text for text in case.chrome if text in extracted.text + "\n"]
    assert not leaked, f"chrome leaked: {leaked}\n--- got:\n{extracted.text}"


# --- the noise property --------------------------------------------------------------------------
# Variants are made at test time from the fixtures by editing only chrome (the site's menu, a
# sidebar list, the footer's year, a hidden token, an ad's text); the main text must not move.


def _tree(html: str) -> etree._Element:
    return etree.fromstring(html, parser=etree.HTMLParser())


def _html(tree: etree._Element) -> str:
    return etree.tostring(tree, encoding="unicode", method="html")


def _nav_item_added(tree: etree._Element, rng: random.Random) -> bool:
    menus = tree.xpath("//nav//ul | //*[@id='menu'] | //td[@colspan='2'][a]")
    if not menus:
        return False
    menu = rng.choice(menus)
    link = etree.SubElement(etree.SubElement(menu, "li") if menu.tag == "ul" else menu, "a", href="/new/")
    link.text = f"新メニュー{rng.randint(1, 99)}"
    return True


def _sidebar_rotated(tree: etree._Element, rng: random.Random) -> bool:
    lists = [
        ul
        for ul in tree.xpath(
            "//*[contains(@class,'sidebar') or contains(@class,'l-side') or contains(@class,'sub-section')"
            " or contains(@class,'widget-area') or @id='left']//ul | //*[@id='left']"
        )
        if len(ul) > 1
    ]
    if not lists:
        return False
    items = list(rng.choice(lists))
    parent = items[0].getparent()
    shift = rng.randint(1, len(items) - 1)
    for item in items:
        parent.remove(item)
    for item in items[shift:] + items[:shift]:
        parent.append(item)
    return True


def _footer_year(tree: etree._Element, rng: random.Random) -> bool:
    changed = False
    for node in tree.iter():
        for attribute in ("text", "tail"):
            value = getattr(node, attribute)
            if isinstance(value, str) and re.search(r"(?:©|Copyright|\(C\)).{0,20}20\d\d", value):
                setattr(node, attribute, re.sub(r"20\d\d", str(2030 + rng.randint(0, 9)), value))
                changed = True
    return changed


def _hidden_token(tree: etree._Element, rng: random.Random) -> bool:
    body = tree.find("body")
    token = etree.SubElement(body, "div", style="display:none")
    token.text = f"csrf-{rng.getrandbits(64):016x}"
    span = etree.SubElement(body, "span", hidden="hidden")
    span.text = f"訪問者数 {rng.randint(1000, 9999)}"
    return True


def _ad_content(tree: etree._Element, rng: random.Random) -> bool:
    ads = tree.xpath("//*[contains(@class,'ad-wrap') or contains(@class,'adsbygoogle')]")
    target = ads[0] if ads else tree.find("body")
    box = etree.SubElement(target, "div", {"class": f"ad_box{rng.randint(1, 9)} side-ads"})
    box.text = f"今だけ初回{rng.randint(10, 50)}%オフのキャンペーン実施中！詳しくは公式ストアで"
    return True


CHROME_EDITS = {
    "nav item added": _nav_item_added,
    "sidebar list rotated": _sidebar_rotated,
    "footer year": _footer_year,
    "hidden token": _hidden_token,
    "ad content": _ad_content,
}


@pytest.mark.parametrize("edit", list(CHROME_EDITS), ids=list(CHROME_EDITS))
def test_chrome_changes_leave_the_text_unchanged(edit: str) -> None:
    applied = 0
    for case in LAYOUT_CASES:
        original = layout(case.name)
        expected = extract_main_text(original).text
        for seed in range(3):
            tree = _tree(original)
            if not CHROME_EDITS[edit](tree, random.Random(f"{case.name}/{edit}/{seed}")):
                break  # this layout has no such chrome
            variant = _html(tree)
            assert variant != original
            applied += 1
            assert extract_main_text(variant).text == expected, f"{case.name}: {edit} changed the text"
    assert applied >= 3 * 4, f"{edit} applied to too few layouts for the property to mean anything"


# --- per-source selectors ------------------------------------------------------------------------

PAGE = """<html><head><title>T</title></head><body>
<div id="head"><a href="/">ロゴ</a> 電話 03-0000-0000</div>
<div class="page"><h1>見出し</h1><p>本文の一段落目です。</p><div class="note">お知らせ枠の文章です。</div>
<p>本文の二段落目です。</p><div class="campaign">キャンペーン中</div></div>
<div id="foot">住所</div></body></html>"""


def test_select_makes_the_matches_the_main_text() -> None:
    selectors = Selectors.parse(select=[".note", "h1"])
    extracted = extract_main_text(PAGE, selectors=selectors)
    assert extracted.text.split("\n") == ["# 見出し", "お知らせ枠の文章です。"]  # document order
    assert extracted.title == "見出し"
    assert extracted.doubt is None


def test_select_keeps_what_the_heuristics_would_drop() -> None:
    extracted = extract_main_text(PAGE, selectors=Selectors.parse(select=["#head"]))
    assert extracted.text == "ロゴ 電話 03-0000-0000"


def test_drop_removes_matches_before_the_heuristics() -> None:
    plain = extract_main_text(PAGE).text
    assert "キャンペーン中" in plain
    dropped = extract_main_text(PAGE, selectors=Selectors.parse(drop=[".campaign", "div.note"])).text
    assert dropped.split("\n") == ["# 見出し", "本文の一段落目です。", "本文の二段落目です。"]


def test_select_and_drop_together_and_nested_matches_count_once() -> None:
    selectors = Selectors.parse(select=[".page", "p"], drop=[".campaign"])
    text = extract_main_text(PAGE, selectors=selectors).text
    assert text.split("\n") == ["# 見出し", "本文の一段落目です。", "お知らせ枠の文章です。", "本文の二段落目です。"]


def test_select_matching_nothing_is_doubtful() -> None:
    extracted = extract_main_text(PAGE, selectors=Selectors.parse(select=[".gone"]))
    assert extracted.text == ""
    assert extracted.doubt is not None and "match nothing" in extracted.doubt


def test_selectors_through_extract_document() -> None:
    body = layout("wp_cocoon.html").encode()
    extracted = extract_document(body, content_type="text/html", selectors=Selectors.parse(select=[".author-box"]))
    assert "この記事を書いた人" in extracted.text
    assert "培養上清液とは" not in extracted.text


@pytest.mark.parametrize("bad", ["div[", "p::nope", "a:unknown-pseudo", ">>", "x" * 501])
def test_invalid_selectors_are_one_line_input_errors(bad: str) -> None:
    with pytest.raises(InputError) as raised:
        Selectors.parse(drop=["p", bad])
    assert "\n" not in str(raised.value)


def test_selectors_are_cleaned_and_keyed() -> None:
    selectors = Selectors.parse(select=[" .a ", ".a", ""], drop=".b")
    assert selectors == Selectors(select=(".a",), drop=(".b",))
    assert not Selectors.parse(select=[" "])
    assert selectors.key == Selectors.parse(select=[".a"], drop=[".b"]).key
    assert selectors.key != Selectors.parse(select=[".b"], drop=[".a"]).key


def test_extractor_version_follows_the_selectors() -> None:
    assert extractor_version() == extractor_version(Selectors()) == EXTRACTOR_VERSION
    with_selectors = extractor_version(Selectors.parse(select=["main"]))
    assert with_selectors.startswith(EXTRACTOR_VERSION + "+")
    assert with_selectors != extractor_version(Selectors.parse(select=["article"]))
    assert len(with_selectors) <= 40  # TextVersion.extractor_version is String(40)


# --- the doubt signal ----------------------------------------------------------------------------


def test_no_doubt_on_a_normal_page() -> None:
    assert extract_document(layout("wp_swell.html").encode(), content_type="text/html").doubt is None


POST = "年末年始の診療日程をお知らせします。12月29日から1月3日までは休診です。急な発熱は休日診療所へ。"


def test_doubt_when_the_main_text_is_a_small_part_of_the_page() -> None:
    # A short post under a long comment thread: the thread goes, the post stays, and the page is
    # flagged, since a wrong root would look the same.
    thread = "".join(f"<li><p>コメント{i}番です。読んで考えたことを長めに書いておきます。</p></li>" for i in range(30))
    html = f"<body><main><h1>題</h1><p>{POST}</p><ol class='comment-list'>{thread}</ol></main></body>"
    extracted = extract_main_text(html)
    assert extracted.text == f"# 題\n{POST}"
    assert extracted.doubt is not None and "tenth" in extracted.doubt


def test_doubt_when_nothing_is_found_in_a_page_that_shows_text() -> None:
    # An empty <h1> (the title is an image) and only the site footer's notice around it.
    notice = "当サイトの内容は一般的な情報であり、診断や治療の代わりになるものではありません。" * 5
    extracted = extract_main_text(
        f"<body><h1><img src='t.png' alt='題'></h1><div class='footer'><p>{notice}</p></div></body>"
    )
    assert extracted.text == ""
    assert extracted.doubt is not None and "no main text" in extracted.doubt


def test_no_doubt_for_an_empty_or_tiny_page() -> None:
    assert extract_main_text("<body></body>").doubt is None
    assert extract_main_text("<body><p>短い。</p></body>").doubt is None
