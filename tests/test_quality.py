"""The quality gate: every way a capture can fail to be a comparable page, and the traps that must pass."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watcher.capture import Capture
from watcher.extract import extract_document
from watcher.quality import MIN_TEXT_CHARS, OK, Verdict, assess

PAGES = Path(__file__).parent / "fixtures" / "pages"
URL = "https://clinic.example/blog/exosome/"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def capture(
    body: bytes = b"",
    *,
    status: int | None = 200,
    content_type: str | None = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
    final_url: str = URL,
    truncated: bool = False,
    error_kind: str | None = None,
    error: str | None = None,
) -> Capture:
    all_headers = {name: [value] for name, value in (headers or {}).items()}
    if content_type is not None:
        all_headers["Content-Type"] = [content_type]
    return Capture(
        source_id=1,
        requested_url=URL,
        final_url=final_url,
        fetched_at=datetime(2025, 3, 1, tzinfo=UTC),
        duration_ms=120,
        status=status,
        headers=all_headers,
        body=body,
        truncated=truncated,
        error_kind=error_kind,
        error=error,
    )


def judge(item: Capture) -> Verdict:
    """As the pipeline does: extract when there is a body, then ask the gate."""
    extracted = None
    if item.error_kind is None and item.body:
        extracted = extract_document(item.body, content_type=item.header("Content-Type"), url=item.final_url)
    return assess(item, extracted)


ARTICLE = page("wp_blog_post.html")
SIDEBAR_LOGIN = ARTICLE.replace(
    b'<aside id="secondary" class="widget-area">',
    '<aside id="secondary" class="widget-area"><section class="widget"><h2>会員ログイン</h2><form>'
    '<input type="text" name="log"><input type="password" name="pwd"><button>ログイン</button></form>'
    "</section>".encode(),
)
CF_FOOTER = ARTICLE.replace(
    b"</footer>\n<script>",
    b'<p>Performance &amp; security by Cloudflare. <a href="/cdn-cgi/l/email-protection#a1b2">[email&#160;protected]'
    b"</a></p></footer>\n<script src='/cdn-cgi/challenge-platform/scripts/jsd/main.js'></script><script>",
)
QUOTING_WAF = ARTICLE.replace(
    "<h2>治療の流れ</h2>".encode(),
    "<p>海外の論文サイトを開くと「Access Denied」や「アクセスが拒否されました」と表示されることがありますが、"
    "当院のページではそのようなことはありません。</p><h2>治療の流れ</h2>".encode(),
)
NGINX_403 = (
    b"<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden</h1></center>"
    b"<hr><center>nginx</center></body></html>"
)
RATE_LIMIT_CAPTCHA = (
    b"<html><head><title>Too many requests</title></head><body><p>We detected unusual traffic "
    b"from your network. Please complete the captcha below.</p><div class='g-recaptcha'></div>"
    b"</body></html>"
)
INCAPSULA = (
    b'<html><head><META NAME="robots" CONTENT="noindex,nofollow"></head><body><iframe '
    b'src="/_Incapsula_Resource?CWUDNSAI=9&incident_id=000-111">Request unsuccessful. Incapsula '
    b"incident ID: 000-111</iframe></body></html>"
)
SECURITY_CHECK_TITLE = (
    "<html><head><title>Security Check</title></head><body><h1>ロボットではありません</h1>"
    "<p>続行するには下のボックスにチェックを入れてください。</p></body></html>".encode()
)
LOGIN_FORM = (
    "<html><head><title>ログイン | 会員サイト</title></head><body><h1>会員ログイン</h1><form>"
    "<input name='id'><input type='password' name='pw'></form><p>IDとパスワードを入力してください。</p>"
    "</body></html>".encode()
)
SOFT_404 = (
    "<html><head><title>ページが見つかりません | さくら通りクリニック</title></head><body><main>"
    "<h1>お探しのページは見つかりませんでした</h1><p>URLが変更されたか、ページが削除された可能性があります。"
    "</p><p><a href='/'>トップページへ戻る</a></p></main></body></html>".encode()
)
ALMOST_EMPTY = "<html><body><main><h1>準備中</h1><p>ただいま準備中です。</p></main></body></html>".encode()
JS_SHELL = (
    b'<html><head><title>Clinic</title></head><body><div id="app"></div><script src="/app.js"></script>'
    b"<noscript>Please enable JavaScript.</noscript></body></html>"
)
PLAIN_TEXT = ("エクソソーム点滴についてのご案内です。治療の効果には個人差があります。\n" * 5).encode()


@dataclass(frozen=True)
class Case:
    id: str
    item: Capture
    outcome: str | None  # None: ok
    kind: str | None = None
    reason_has: list[str] = field(default_factory=list)


CASES = [
    # --- ok, including the false-positive traps -------------------------------------------------
    Case("article", capture(ARTICLE), None),
    Case("sjis-article", capture(page("sjis_declared.html"), content_type="text/html"), None),
    Case("xhtml", capture(ARTICLE, content_type="application/xhtml+xml"), None),
    Case("plain-text", capture(PLAIN_TEXT, content_type="text/plain; charset=utf-8"), None),
    Case("no-content-type", capture(ARTICLE, content_type=None), None),
    Case("trap-contact-form-mentions-captcha", capture(page("contact_captcha_trap.html")), None),
    Case("trap-cloudflare-footer-and-scripts", capture(CF_FOOTER), None),
    Case("trap-sidebar-login-widget", capture(SIDEBAR_LOGIN), None),
    Case("trap-article-quotes-block-messages", capture(QUOTING_WAF), None),
    Case("trap-gzip-content-length", capture(ARTICLE, headers={"Content-Length": "2100"}), None),
    Case("content-length-matches", capture(ARTICLE, headers={"Content-Length": str(len(ARTICLE))}), None),
    # --- fetch errors and statuses --------------------------------------------------------------
    Case(
        "timeout", capture(status=None, error_kind="timeout", error="no answer in 30 s"), "error", "timeout", ["30 s"]
    ),
    Case("robots", capture(status=None, error_kind="robots"), "error", "robots"),
    Case("no-response", capture(status=None), "error", "no_response"),
    Case("not-modified-is-not-ok", capture(status=304), "error", "http_304", ["caller"]),
    Case("redirect-not-followed", capture(status=301), "error", "http_301"),
    Case("404", capture(SOFT_404, status=404), "error", "http_404"),
    Case("404-template-loads-recaptcha", capture(RATE_LIMIT_CAPTCHA, status=404), "error", "http_404"),
    Case("500", capture(b"<h1>Internal Server Error</h1>", status=500), "error", "http_500"),
    Case("plain-403", capture(NGINX_403, status=403), "error", "http_403"),
    Case("plain-429", capture(b"Too Many Requests", status=429, content_type="text/plain"), "error", "http_429"),
    Case(
        "plain-503",
        capture(b"<h1>Service Unavailable</h1><p>Maintenance until 10:00</p>", status=503),
        "error",
        "http_503",
    ),
    Case(
        "401-basic-auth",
        capture(b"Unauthorized", status=401, headers={"WWW-Authenticate": 'Basic realm="x"'}),
        "blocked",
        "login_wall",
    ),
    Case("401-bare", capture(b"", status=401), "error", "http_401"),
    # --- walls ----------------------------------------------------------------------------------
    Case(
        "cloudflare-403", capture(page("challenge_cloudflare.html"), status=403), "blocked", "challenge", ["Cloudflare"]
    ),
    Case("cloudflare-503", capture(page("challenge_cloudflare.html"), status=503), "blocked", "challenge"),
    Case("cloudflare-200", capture(page("challenge_cloudflare.html")), "blocked", "challenge"),
    Case(
        "cf-mitigated-header", capture(b"", status=403, headers={"cf-mitigated": "challenge"}), "blocked", "challenge"
    ),
    Case("aws-waf-header", capture(b"", status=202, headers={"x-amzn-waf-action": "captcha"}), "blocked", "captcha"),
    Case("akamai-403", capture(page("waf_block.html"), status=403), "blocked", "waf", ["Akamai"]),
    Case("japanese-waf-200", capture(page("waf_block_ja.html")), "blocked", "waf"),
    Case("japanese-waf-403", capture(page("waf_block_ja.html"), status=403), "blocked", "waf"),
    Case("incapsula", capture(INCAPSULA), "blocked", "waf"),
    Case("captcha-429", capture(RATE_LIMIT_CAPTCHA, status=429), "blocked", "captcha"),
    Case("captcha-title-200", capture(SECURITY_CHECK_TITLE), "blocked", "challenge"),
    Case("password-protected-post", capture(page("login_wall.html")), "blocked", "login_wall"),
    Case("login-form-page", capture(LOGIN_FORM), "blocked", "login_wall"),
    Case(
        "redirected-to-login",
        capture(ARTICLE, final_url="https://clinic.example/wp-login.php?redirect_to=x"),
        "blocked",
        "login_wall",
    ),
    # --- content --------------------------------------------------------------------------------
    Case(
        "png", capture(b"\x89PNG\r\n\x1a\n" + os.urandom(500), content_type="image/png"), "error", "unsupported_content"
    ),
    Case("pdf", capture(b"%PDF-1.7\n" + b"x" * 500, content_type="application/pdf"), "error", "unsupported_content"),
    Case("json", capture(b'{"a": 1}', content_type="application/json"), "error", "unsupported_content"),
    Case(
        "nul-bytes-labelled-html",
        capture(b"<html>" + b"\x00\x01\x02" * 300 + b"</html>"),
        "error",
        "unsupported_content",
    ),
    Case(
        "binary-without-type",
        capture(b"\x1f\x8b\x08\x00" + os.urandom(500), content_type=None),
        "error",
        "unsupported_content",
    ),
    Case("truncated-flag", capture(ARTICLE[:4000], truncated=True), "error", "truncated"),
    Case(
        "content-length-larger",
        capture(ARTICLE[:4000], headers={"Content-Length": str(len(ARTICLE))}),
        "error",
        "truncated",
    ),
    Case("partial-content", capture(ARTICLE, status=206), "error", "truncated"),
    Case("empty-body", capture(b""), "error", "empty"),
    Case("whitespace-body", capture(b" \r\n\t "), "error", "empty"),
    Case("no-content-204", capture(b"", status=204), "error", "empty"),
    Case("almost-empty", capture(ALMOST_EMPTY), "error", "empty"),
    Case("javascript-shell", capture(JS_SHELL), "error", "empty"),
    Case("soft-404", capture(SOFT_404), "error", "soft_404"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_gate(case: Case) -> None:
    verdict = judge(case.item)
    if case.outcome is None:
        assert verdict == OK, verdict
        return
    assert not verdict.ok
    assert (verdict.outcome, verdict.kind) == (case.outcome, case.kind), verdict
    assert verdict.reason
    for text in case.reason_has:
        assert text in verdict.reason
    assert verdict.kind is not None and len(verdict.kind) <= 32  # Check.error_kind column


def test_ok_verdict_carries_nothing() -> None:
    assert Verdict(ok=True, outcome=None, reason=None, kind=None) == OK


def test_failed_extraction_is_judged_from_the_body() -> None:
    # The pipeline passes None when extraction raised; walls are still recognised from the markup.
    assert assess(capture(page("challenge_cloudflare.html"), status=403), None).outcome == "blocked"
    assert assess(capture(ARTICLE), None) == OK
    assert assess(capture(b""), None).kind == "empty"


def test_threshold_is_small() -> None:
    short = "<html><body><main><p>" + "あ" * MIN_TEXT_CHARS + "</p></main></body></html>"
    assert judge(capture(short.encode())) == OK
    shorter = "<html><body><main><p>" + "あ" * (MIN_TEXT_CHARS - 1) + "</p></main></body></html>"
    assert judge(capture(shorter.encode())).kind == "empty"
