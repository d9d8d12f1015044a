"""The empty-shell hint (watcher.shell): table-driven, with pages that are shells and pages that are not."""

from __future__ import annotations

import pytest

from watcher.shell import shell_hint, shell_signs

LONG_TEXT = "NMN drips are offered to adults after a consultation about their history and current medication. " * 3

SHELLS = [
    ('<html><body><div id="root"></div><script src="/main.js"></script></body></html>', "", "mount point root"),
    ("<html><body><div id='__next'></div></body></html>", "", "__next"),
    ("<html><body><app-root></app-root></body></html>", "Loading", "app-root"),
    (
        "<html><body><noscript>このサイトを見るにはJavaScriptを有効にしてください</noscript></body></html>",
        "",
        "noscript",
    ),
    (
        "<html><body><noscript>You need to enable JavaScript to run this app.</noscript><div id=app></div></body></html>",
        "",
        "noscript",
    ),
    ("<html><body><p>Hi</p><script>" + "var x=1;" * 400 + "</script></body></html>", "Hi", "scripts outweigh"),
]
NOT_SHELLS = [
    # Enough text: the page is there, whatever its scripts do.
    (
        f'<html><body><div id="root"><p>{LONG_TEXT}</p></div><noscript>enable JavaScript</noscript></body></html>',
        LONG_TEXT,
    ),
    # Little text but no sign of a script-built page: a short page, not a shell.
    ("<html><body><p>Closed for the holidays.</p></body></html>", "Closed for the holidays."),
    # A noscript that does not ask for JavaScript (a tracking pixel).
    ('<html><body><noscript><img src="/pixel.gif"></noscript><p>Short note.</p></body></html>', "Short note."),
    # An element whose id merely contains "root".
    ('<html><body><div id="rooted-list"><p>Ginseng</p></div></body></html>', "Ginseng"),
]


@pytest.mark.parametrize(("html", "text", "sign"), SHELLS)
def test_shells_get_a_hint(html: str, text: str, sign: str) -> None:
    hint = shell_hint(html.encode("utf-8"), text)
    assert hint is not None and sign in hint and "--render" in hint


@pytest.mark.parametrize(("html", "text"), NOT_SHELLS)
def test_pages_that_are_not_shells(html: str, text: str) -> None:
    assert shell_signs(html.encode("utf-8"), text) == []
    assert shell_hint(html.encode("utf-8"), text) is None
